/**
 * Who moves a running upgrade: the saga (`upgradeNext`), not `decide`. Decide starts an upgrade and renders the
 * journaled step; a step whose Job or backup has ended stays journaled until the saga's move is decided, and a move
 * that does not leave the journaled step (stale: computed from an older journal) is ignored.
 */
import { decide, upgradeNext, upgradePassed } from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { entropy } from "../decide/support.js"
import { now, readyOnV1, retarget, tick, v2, type World } from "./saga.js"

/** v1 Ready, moved to v2: the journal at Exporting, the pre-upgrade backup Completed in the cluster. */
const exportDone = Effect.gen(function* () {
  const started = yield* tick(retarget(yield* readyOnV1("exportImport"), v2, "exportImport"))
  expect(started.decision.status.upgrade?.phase).toBe("Exporting")
  return started
})

const decideWith = (world: World, upgradeMove: Parameters<typeof decide>[1]["upgradeMove"]) =>
  decide({ ...world.instance, status: world.decision.status }, { objects: world.objects, entropy, upgradeMove }, now)

describe("upgrade saga: the moves", () => {
  it.effect("decide alone keeps the journaled step, however often it runs", () =>
    Effect.gen(function* () {
      const world = yield* exportDone
      let status = world.decision.status
      for (let i = 0; i < 3; i++) {
        status = decide({ ...world.instance, status }, { objects: world.objects, entropy }, now).status
        expect(status.upgrade?.phase).toBe("Exporting")
      }
    })
  )

  it.effect("the saga's move is decided: the next step is journaled and rendered", () =>
    Effect.gen(function* () {
      const world = yield* exportDone
      const journal = { ...world.instance, status: world.decision.status }
      const next = upgradeNext(journal, world.objects, now)
      expect(next.move?.from).toEqual(world.decision.status.upgrade)
      expect(next.move?.to).toMatchObject({ phase: "SavingEnv", attempt: 1 })
      const decision = decideWith(world, next.move)
      expect(decision.status.upgrade?.phase).toBe("SavingEnv")
      expect(decision.desired.some((object) => object.metadata.name?.startsWith("demo-envsave-"))).toBe(true)
      const journaled = decision.status.upgrade
      if (journaled === undefined) throw new Error("no upgrade journaled")
      expect(upgradePassed(journaled, "Export")).toBe(true)
      expect(upgradePassed(journaled, "SaveEnv")).toBe(false)
    })
  )

  it.effect("a stale move is ignored", () =>
    Effect.gen(function* () {
      const world = yield* exportDone
      const journal = world.decision.status.upgrade
      if (journal === undefined) throw new Error("no upgrade")
      const next = upgradeNext({ ...world.instance, status: world.decision.status }, world.objects, now)
      const stale = { from: { ...journal, attempt: 2 }, to: next.move?.to ?? "Done" }
      expect(decideWith(world, stale).status.upgrade?.phase).toBe("Exporting")
    })
  )

  it.effect("nothing to move while the step's backup runs; no move for an instance that is not upgrading", () =>
    Effect.gen(function* () {
      const ready = yield* readyOnV1("exportImport")
      expect(upgradeNext({ ...ready.instance, status: ready.decision.status }, ready.objects, now)).toEqual({
        move: undefined,
        wakeAt: undefined
      })
      const running = yield* tick(retarget(ready, v2, "exportImport"), { job: () => "Running" })
      const next = upgradeNext({ ...running.instance, status: running.decision.status }, running.objects, now)
      expect(next.move).toBeUndefined()
    })
  )
})
