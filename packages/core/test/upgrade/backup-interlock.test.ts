/**
 * The upgrade side of the backup interlock (`packages/core/src/backup/interlock.ts`) in whole decisions: an upgrade
 * does not start while a backup of the instance runs (the running images stay and UpgradeInProgress says what it
 * waits for), and starts in the first decision after the backup's Job has finished. The shell passes the backups in
 * `Observed.backups`, and a change of their Jobs wakes the instance: there is no poll.
 */
import { decide } from "@convex-operator/core"
import { findCondition } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { entropy, find, now } from "../decide/support.js"
import { names, readyOnV1, retarget, v1, v2 } from "./saga.js"

const nightly = { name: "demo-nightly-1", createdAt: "2026-01-01T00:00:00Z" }

describe("an upgrade and a running backup of the same instance", () => {
  it.effect("the upgrade waits while the backup runs and starts once it has finished", () =>
    Effect.gen(function* () {
      const ready = yield* readyOnV1("inPlace")
      const upgraded = retarget(ready, v2, "inPlace")
      const instance = { ...upgraded.instance, status: ready.decision.status }

      const held = decide(
        instance,
        { objects: ready.objects, entropy, backups: [{ ...nightly, phase: "Running" }] },
        now
      )
      expect(held.status.upgrade).toBeUndefined()
      expect(held.status.currentVersion).toBe(v1)
      expect(find(held, "StatefulSet", names.backend).spec.template.spec.containers[0]?.image).toBe(
        `ghcr.io/get-convex/convex-backend:${v1}`
      )
      expect(findCondition(held.status.conditions, "UpgradeInProgress")?.message).toContain(
        `the upgrade to ${v2} waits for the running backup ${nightly.name} to finish`
      )

      for (const phase of ["Completed", "Failed", undefined] as const) {
        const started = decide(instance, { objects: ready.objects, entropy, backups: [{ ...nightly, phase }] }, now)
        expect(started.status.upgrade?.phase, `backup ${phase ?? "not started"}`).toBeDefined()
      }
    })
  )

  it.effect("the upgrade's own pre-upgrade backup, running before the upgrade was journaled, does not hold it", () =>
    Effect.gen(function* () {
      const ready = yield* readyOnV1("exportImport")
      const upgraded = retarget(ready, v2, "exportImport")
      const instance = { ...upgraded.instance, status: ready.decision.status }
      // What the first decision starts: the upgrade and its pre-upgrade backup.
      const first = decide(instance, { objects: ready.objects, entropy }, now)
      const own = first.status.upgrade?.backup
      expect(own).toBeDefined()
      // An operator stopped after creating that backup and before writing the status: the next one finds its Job
      // running and the status without the upgrade. The upgrade starts with the same backup (not held, not redone).
      const again = decide(
        instance,
        {
          objects: ready.objects,
          entropy,
          backups: [{ name: own ?? "", createdAt: nightly.createdAt, phase: "Running" }]
        },
        now
      )
      expect(again.status.upgrade?.backup).toBe(own)
      expect(again.desired.filter((object) => object.kind === "Role").map((object) => object.metadata.name)).toEqual(
        first.desired.filter((object) => object.kind === "Role").map((object) => object.metadata.name)
      )
      expect(again.desired.some((object) => object.kind === "Role")).toBe(true)
      // Another backup running still holds it.
      const held = decide(
        instance,
        { objects: ready.objects, entropy, backups: [{ ...nightly, phase: "Running" }] },
        now
      )
      expect(held.status.upgrade).toBeUndefined()
    })
  )

  it.effect("a backup that runs while an upgrade is already under way does not stop it", () =>
    Effect.gen(function* () {
      const ready = yield* readyOnV1("inPlace")
      const upgraded = retarget(ready, v2, "inPlace")
      const first = decide(
        { ...upgraded.instance, status: ready.decision.status },
        { objects: ready.objects, entropy },
        now
      )
      expect(first.status.upgrade).toBeDefined()
      const next = decide(
        { ...upgraded.instance, status: first.status },
        { objects: ready.objects, entropy, backups: [{ ...nightly, phase: "Running" }] },
        now
      )
      expect(next.status.upgrade?.targetHash).toBe(first.status.upgrade?.targetHash)
    })
  )
})
