/** The pause annotation: a paused instance gets no writes but its status, announced once; unpausing resumes. */
import { type ConvexInstance, decide, pauseAnnotation, reconciliationPaused } from "@convex-operator/core"
import { findCondition, restartedAtAnnotation } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, TestClock } from "effect"
import {
  annotate,
  condition,
  has,
  names,
  observe,
  readyOnV1,
  retarget,
  tick,
  tickWith,
  v2,
  type World,
  where
} from "../upgrade/saga.js"
import { entropy, minimal, now, settle } from "./support.js"

const paused = (instance: ConvexInstance, value = "true"): ConvexInstance => ({
  ...instance,
  metadata: { ...instance.metadata, annotations: { ...instance.metadata.annotations, [pauseAnnotation]: value } }
})
const unpaused = (world: World): World => {
  const { [pauseAnnotation]: _removed, ...annotations } = world.instance.metadata.annotations ?? {}
  return { ...world, instance: { ...world.instance, metadata: { ...world.instance.metadata, annotations } } }
}

/**
 * One decision of a paused instance at the TestClock's time. The cluster keeps every object as it is (a paused
 * decision desires nothing, which `tick`'s simulated cluster would take as everything gone).
 */
const pausedTick = (world: World) => tickWith(world, (_decision, objects) => objects)

describe("pause annotation", () => {
  it('only the value "true" pauses', () => {
    expect(reconciliationPaused({ annotations: { [pauseAnnotation]: "true" } })).toBe(true)
    expect(reconciliationPaused({ annotations: { [pauseAnnotation]: "false" } })).toBe(false)
    expect(reconciliationPaused({ annotations: { [pauseAnnotation]: "True" } })).toBe(false)
    expect(reconciliationPaused({})).toBe(false)
  })

  it("a new paused instance gets nothing applied, only phase Paused, the condition and one Normal event", () => {
    const decision = decide(paused(minimal()), { objects: [], entropy }, now)
    expect(decision.desired).toEqual([])
    expect(decision.apply).toEqual([])
    expect(decision.delete).toEqual([])
    expect(decision.statusChanged).toBe(true)
    expect(decision.status.phase).toBe("Paused")
    const pausedCondition = findCondition(decision.status.conditions, "ReconciliationPaused")
    expect(pausedCondition).toMatchObject({ status: "True", reason: "Paused", observedGeneration: 1 })
    expect(pausedCondition?.message).toContain(`${pauseAnnotation}-`)
    expect(decision.events).toEqual([expect.objectContaining({ type: "Normal", reason: "ReconciliationPaused" })])
  })

  it("pausing a Ready instance deletes nothing, keeps its status, and a second decision changes nothing", () => {
    const settled = settle(minimal({ dashboard: { enabled: false } }), [])
    expect(settled.decision.status.phase).toBe("Ready")
    const first = decide(paused(settled.instance), { objects: settled.objects, entropy }, now)
    expect(first.apply).toEqual([])
    expect(first.delete).toEqual([])
    expect(first.status.currentVersion).toBe(settled.decision.status.currentVersion)
    expect(findCondition(first.status.conditions, "Ready")).toEqual(
      findCondition(settled.decision.status.conditions, "Ready")
    )
    expect(first.events.map((event) => event.reason)).toEqual(["ReconciliationPaused"])
    // A spec change the operator would act on (re-enabling the dashboard) is not acted on either.
    const changed = paused(minimal({ dashboard: { enabled: true } }))
    const second = decide(
      { ...changed, status: first.status },
      { objects: settled.objects, entropy },
      new Date(now.getTime() + 3_600_000)
    )
    expect(second.apply).toEqual([])
    expect(second.delete).toEqual([])
    expect(second.statusChanged).toBe(false)
    expect(second.events).toEqual([])
  })

  it("a paused instance being deleted gets the deletion's (empty) decision", () => {
    const instance = paused(minimal())
    const deleting = { ...instance, metadata: { ...instance.metadata, deletionTimestamp: "2025-06-01T12:00:00Z" } }
    const decision = decide(deleting, { objects: [], entropy }, now)
    expect(decision.statusChanged).toBe(false)
    expect(decision.events).toEqual([])
  })

  it("unpausing drops the condition, announces it once and applies again", () => {
    const settled = settle(minimal(), [])
    const pausedDecision = decide(paused(settled.instance), { objects: settled.objects, entropy }, now)
    // A child vanished while paused: the operator only puts it back after the pause.
    const objects = settled.objects.filter((object) => object.kind !== "Service")
    const whilePaused = decide(
      { ...paused(settled.instance), status: pausedDecision.status },
      { objects, entropy },
      now
    )
    expect(whilePaused.apply).toEqual([])
    const resumed = decide({ ...settled.instance, status: pausedDecision.status }, { objects, entropy }, now)
    expect(resumed.apply.map((object) => object.kind)).toContain("Service")
    expect(findCondition(resumed.status.conditions, "ReconciliationPaused")).toBeUndefined()
    expect(resumed.status.phase).not.toBe("Paused")
    expect(resumed.events.filter((event) => event.reason === "ReconciliationResumed")).toHaveLength(1)
    const next = decide({ ...settled.instance, status: resumed.status }, { objects: settled.objects, entropy }, now)
    expect(next.events.map((event) => event.reason)).not.toContain("ReconciliationResumed")
  })

  it.effect("a version change while paused starts no upgrade: no pre-upgrade backup, no Job, no status.upgrade", () =>
    Effect.gen(function* () {
      const ready = yield* readyOnV1("exportImport")
      let world = annotate(retarget(ready, v2, "exportImport"), pauseAnnotation, "true")
      for (let i = 0; i < 3; i++) {
        world = yield* pausedTick(world)
        expect(world.decision.apply).toEqual([])
        expect(world.decision.delete).toEqual([])
        expect(world.decision.desired.filter((object) => ["ConvexBackup", "Job"].includes(object.kind))).toEqual([])
        expect(world.decision.status.upgrade).toBeUndefined()
        expect(world.decision.status.phase).toBe("Paused")
        expect(world.decision.status.currentVersion).toBe(ready.decision.status.currentVersion)
        expect(world.decision.events.map((event) => event.reason)).not.toContain("UpgradeStarted")
        yield* TestClock.adjust("1 hour")
      }

      // Unpaused, the same change starts the upgrade with its pre-upgrade ConvexBackup.
      const resumed = yield* tick(unpaused(world))
      expect(resumed.decision.status.upgrade).toMatchObject({ phase: "Exporting", toVersion: v2 })
      expect(resumed.decision.apply.map((object) => object.kind)).toContain("ConvexBackup")
    })
  )

  it.effect("a periodic restart due while paused applies nothing; once unpaused the backend restarts", () =>
    Effect.gen(function* () {
      const ready = yield* readyOnV1("inPlace", { maintenance: { upgradeStrategy: "inPlace", restartInterval: "24h" } })
      const restartedAt = (decision: World["decision"]) =>
        decision.desired
          .filter((object) => object.kind === "StatefulSet")
          .map(
            (object) =>
              (object as { spec: { template: { metadata?: { annotations?: Record<string, string> } } } }).spec.template
                .metadata?.annotations?.[restartedAtAnnotation]
          )[0]
      // Not due yet before the interval.
      expect(restartedAt(ready.decision)).toBeUndefined()
      let world = annotate(ready, pauseAnnotation, "true")
      // The interval elapses while paused, and keeps elapsing.
      yield* TestClock.adjust("25 hours")
      for (let i = 0; i < 3; i++) {
        world = yield* pausedTick(world)
        expect(world.decision.apply).toEqual([])
        expect(world.decision.delete).toEqual([])
        expect(world.decision.status.lastRestartTime).toBeUndefined()
        expect(world.decision.events.map((event) => event.reason)).not.toContain("RestartTriggered")
        expect(world.decision.status.phase).toBe("Paused")
        yield* TestClock.adjust("1 hour")
      }

      const resumed = yield* tick(unpaused(world))
      const at = new Date(yield* Clock.currentTimeMillis).toISOString().replace(/\.\d{3}Z$/, "Z")
      expect(resumed.decision.apply.map((object) => object.kind)).toContain("StatefulSet")
      expect(restartedAt(resumed.decision)).toBe(at)
      expect(resumed.decision.status.lastRestartTime).toBe(at)
      expect(resumed.decision.events).toContainEqual(expect.objectContaining({ reason: "RestartTriggered" }))
    })
  )

  it.effect("an upgrade paused at a step neither advances nor renders its Jobs, and resumes at that step", () =>
    Effect.gen(function* () {
      const ready = yield* readyOnV1("exportImport")
      // Export done, the SaveEnv Job still running: the saga is at SavingEnv.
      let world = yield* tick(retarget(ready, v2, "exportImport"), {
        job: (step) => (step === "SaveEnv" ? "Running" : "Succeeded")
      })
      for (let i = 0; i < 5 && world.decision.status.upgrade?.phase !== "SavingEnv"; i++) {
        world = yield* tick(world, { job: (step) => (step === "SaveEnv" ? "Running" : "Succeeded") })
      }
      expect(world.decision.status.upgrade?.phase).toBe("SavingEnv")
      const step = world.decision.status.upgrade
      // The SaveEnv Job finishes while the instance is paused: the saga still does not move on.
      const jobDone = observe(world.decision, {}, world.objects)
      let held = annotate(world, pauseAnnotation, "true").instance
      for (let i = 0; i < 3; i++) {
        yield* TestClock.adjust("1 hour")
        const at = new Date(yield* Clock.currentTimeMillis)
        const decision = decide(held, { objects: jobDone, entropy }, at)
        expect(decision.apply).toEqual([])
        expect(decision.delete).toEqual([])
        expect(decision.status.upgrade).toEqual(step)
        expect(decision.status.phase).toBe("Paused")
        held = { ...held, status: decision.status }
      }

      const heldWorld: World = {
        instance: held,
        objects: jobDone,
        decision: { ...world.decision, status: held.status ?? {} }
      }
      let resumed = yield* tick(unpaused(heldWorld))
      expect(resumed.decision.status.phase).toBe("Upgrading")
      const seen = [where(resumed.decision)]
      for (let i = 0; i < 20 && resumed.decision.status.phase !== "Ready"; i++) {
        resumed = yield* tick(resumed)
        seen.push(where(resumed.decision))
      }
      expect(resumed.decision.status.phase).toBe("Ready")
      expect(resumed.decision.status.currentVersion).toBe(v2)
      expect(condition(resumed.decision, "UpgradeInProgress")).toBe("False/UpToDate")
      expect(has(resumed.decision, "StatefulSet", names.backend)).toBe(true)
      expect(seen.some((s) => s.includes("Importing"))).toBe(true)
    })
  )
})
