/**
 * exportImport with SQLite on a claim starts the new version on a fresh claim `<name>-backend-pvc-g<n>` at the
 * roll and imports into it; the old claim keeps the old data (retained, named in status.dataClaims), so setting the
 * version back after a failed import runs the old version on the old data again.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import type { Decision } from "../../src/decide.js"
import { find } from "../decide/support.js"
import { type ClusterBehaviour, names, readyOnV1, retarget, runUntil, tick, v1, v2, v3, type World } from "./saga.js"

const readyOn = (version: string) => (world: World) =>
  world.decision.status.phase === "Ready" && world.decision.status.currentVersion === version

/** The claim the backend StatefulSet mounts at /convex/data, and its image. */
const backend = (decision: Decision) => {
  const statefulSet = find(decision, "StatefulSet", names.backend)
  const pod = statefulSet.spec.template.spec
  return {
    claim: pod.volumes?.find((volume: { name: string }) => volume.name === "data")?.persistentVolumeClaim?.claimName,
    image: pod.containers[0]?.image as string
  }
}
const claimsIn = (decision: Decision) =>
  decision.desired.filter((object) => object.kind === "PersistentVolumeClaim").map((object) => object.metadata.name)

/** Ticks, moving the TestClock to each wake-up the decision asks for, until `done`. */
const runWithClock = (world: World, done: (world: World) => boolean, behaviour: ClusterBehaviour, limit = 30) =>
  Effect.gen(function* () {
    let current = world
    for (let i = 0; i < limit; i++) {
      current = yield* tick(current, behaviour)
      if (done(current)) return current
      if (Option.isSome(current.decision.requeueAfter) && current.decision.apply.length === 0) {
        yield* TestClock.adjust(current.decision.requeueAfter.value)
      }
    }
    throw new Error("not done")
  })

describe("exportImport on a SQLite claim: a fresh claim per upgrade", () => {
  it.effect("exports from the old claim, rolls onto a fresh one, imports there, and keeps the old one", () =>
    Effect.gen(function* () {
      const ready = yield* readyOnV1("exportImport")
      expect(backend(ready.decision).claim).toBe(names.backendPvc)
      expect(ready.decision.status.dataClaims).toBeUndefined()

      const { world: saving } = yield* runUntil(
        retarget(ready, v2, "exportImport"),
        (world) => world.decision.status.upgrade?.phase === "SavingEnv"
      )
      // Before the roll: the old version on the old claim, and no fresh claim yet.
      expect(backend(saving.decision)).toMatchObject({ claim: names.backendPvc, image: expect.stringContaining(v1) })
      expect(saving.decision.status.upgrade?.dataClaim).toBe(`${names.backendPvc}-g2`)
      expect(claimsIn(saving.decision)).toEqual([names.backendPvc])

      const { world: importing } = yield* runUntil(
        saving,
        (world) => world.decision.status.upgrade?.phase === "Importing",
        { job: (step) => (step === "Import" ? "Running" : "Succeeded") }
      )
      // From the roll: the new version on the fresh claim; the old claim is neither rendered nor deleted.
      expect(backend(importing.decision)).toMatchObject({
        claim: `${names.backendPvc}-g2`,
        image: expect.stringContaining(v2)
      })
      expect(claimsIn(importing.decision)).toEqual([`${names.backendPvc}-g2`])
      expect(importing.decision.delete.filter((object) => object.kind === "PersistentVolumeClaim")).toEqual([])

      const { world: done } = yield* runUntil(importing, readyOn(v2))
      expect(done.decision.status.dataClaims).toEqual({
        current: `${names.backendPvc}-g2`,
        retained: [names.backendPvc]
      })
      expect(backend(done.decision).claim).toBe(`${names.backendPvc}-g2`)
      // Steady state: nothing to apply.
      const again = yield* tick(done)
      expect(again.decision.apply).toEqual([])

      // The next upgrade moves on to generation 3 and retains both earlier claims.
      const { world: third } = yield* runUntil(retarget(again, v3, "exportImport"), readyOn(v3))
      expect(third.decision.status.dataClaims).toEqual({
        current: `${names.backendPvc}-g3`,
        retained: [names.backendPvc, `${names.backendPvc}-g2`]
      })
    })
  )

  it.effect("a failed import rolled back runs the old version on the old claim; the fresh one is retained", () =>
    Effect.gen(function* () {
      const ready = yield* readyOnV1("exportImport")
      const failed = yield* runWithClock(
        retarget(ready, v2, "exportImport"),
        (world) => world.decision.status.upgrade?.phase === "Failed",
        { job: (step) => (step === "Import" ? "Failed" : "Succeeded") }
      )
      expect(failed.decision.status.upgrade).toMatchObject({ failedStep: "Import" })
      expect(backend(failed.decision).claim).toBe(`${names.backendPvc}-g2`)

      const back = yield* tick(retarget(failed, v1, "exportImport"))
      expect(backend(back.decision)).toMatchObject({ claim: names.backendPvc, image: expect.stringContaining(v1) })
      expect(back.decision.status.dataClaims).toEqual({
        current: names.backendPvc,
        retained: [`${names.backendPvc}-g2`]
      })
      const { world } = yield* runUntil(back, readyOn(v1))
      expect(world.decision.status.upgrade).toBeUndefined()

      // A later upgrade never starts on the abandoned claim again.
      const { world: later } = yield* runUntil(
        retarget(world, v3, "exportImport"),
        (w) => w.decision.status.upgrade?.phase === "Exporting"
      )
      expect(later.decision.status.upgrade?.dataClaim).toBe(`${names.backendPvc}-g3`)
    })
  )

  it.effect("inPlace never moves the claim", () =>
    Effect.gen(function* () {
      const inPlace = yield* readyOnV1("inPlace")
      const { world } = yield* runUntil(retarget(inPlace, v2, "inPlace"), readyOn(v2))
      expect(backend(world.decision).claim).toBe(names.backendPvc)
      expect(world.decision.status.dataClaims).toBeUndefined()
    })
  )
})
