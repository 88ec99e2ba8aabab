/**
 * A ConvexBackup or ConvexScheduledBackup whose spec passed admission but does not decode (the in-memory apiserver
 * admits anything, as an apiserver with an older CRD would): the object says which field is wrong (condition reason
 * `InvalidSpec`, a Warning), and the operator writes nothing more until it changes: no retry loop.
 */
import { KubeClient, type KubeObject, MemoryApiServer, RecordedEvents } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { ConvexBackups, ConvexScheduledBackups } from "../src/shell/backup-resources.js"
import {
  type Json,
  layers,
  namespace,
  readyInstance,
  requestsSince,
  runOperator,
  settle,
  until,
  wholeOperatorTimeout,
  writesOf
} from "./support/operator-harness.js"

describe("a backup kind whose spec does not decode", () => {
  it.scoped(
    "is reported on the object once, naming the field, and then left alone",
    () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(Date.parse("2026-03-01T00:00:00Z"))
        const kube = yield* KubeClient
        const server = yield* MemoryApiServer
        yield* runOperator()
        yield* readyInstance("demo", {})
        yield* kube.create(ConvexBackups, {
          apiVersion: "convex.icod.de/v1alpha1",
          kind: "ConvexBackup",
          metadata: { name: "manual", namespace },
          spec: { instanceRef: { name: "demo" }, target: { pvc: { claimName: "Not_A_Name" } } }
        } as KubeObject)
        yield* kube.create(ConvexScheduledBackups, {
          apiVersion: "convex.icod.de/v1alpha1",
          kind: "ConvexScheduledBackup",
          metadata: { name: "nightly", namespace },
          spec: { instanceRef: { name: "demo" }, schedule: "every night", target: { pvc: {} } }
        } as KubeObject)
        const backupOf = Effect.map(kube.get(ConvexBackups, "manual", { namespace }), (o) => o as unknown as Json)
        const scheduleOf = Effect.map(
          kube.get(ConvexScheduledBackups, "nightly", { namespace }),
          (o) => o as unknown as Json
        )
        yield* until(
          "both reported",
          Effect.zipWith(
            backupOf,
            scheduleOf,
            (backup, schedule) => backup.status?.phase === "Failed" && schedule.status?.conditions !== undefined
          )
        )
        const backup = yield* backupOf
        expect(backup.status.message).toContain("spec.target.pvc.claimName")
        expect(backup.status.message).not.toContain("Not_A_Name")
        expect(backup.status.conditions).toEqual([
          expect.objectContaining({ type: "Completed", status: "False", reason: "InvalidSpec" })
        ])
        const schedule = yield* scheduleOf
        expect(schedule.status.conditions).toEqual([
          expect.objectContaining({ type: "Scheduled", status: "False", reason: "InvalidSpec" })
        ])
        expect(schedule.status.conditions[0].message).toContain("spec.schedule")
        expect(schedule.status.conditions[0].message).not.toContain("every night")
        // No Job, no ConvexBackup made from the schedule.
        expect((yield* kube.list(ConvexBackups, { namespace })).items.map((o) => o.metadata.name)).toEqual(["manual"])
        const warnings = (yield* yield* RecordedEvents).filter((event) => event.reason === "InvalidSpec")
        expect(warnings.map((event) => event.regarding?.kind).sort()).toEqual(["ConvexBackup", "ConvexScheduledBackup"])

        // Then nothing: no retry loop, no write, however long it waits.
        yield* settle
        const from = (yield* server.requests).length
        for (let i = 0; i < 5; i++) {
          yield* TestClock.adjust("10 minutes")
          yield* settle
        }
        expect(writesOf(yield* requestsSince(from))).toEqual([])
        expect((yield* yield* RecordedEvents).filter((event) => event.reason === "InvalidSpec")).toHaveLength(2)
      }).pipe(Effect.provide(layers)),
    wholeOperatorTimeout
  )
})
