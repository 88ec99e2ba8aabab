/**
 * The saga fibers on their own (sagas/registry.ts, sagas/upgrade.ts, sagas/restart.ts), fed snapshots as reconciles
 * would feed them, under the TestClock. The upgrade saga proposes a move only when what it observed or the clock
 * allows one, wakes its instance once per journal it moves from, fails a roll at its deadline by its own timer (no
 * reconcile needed), resumes at the step the journal names, and ends when the journal no longer runs its upgrade. The
 * restart saga sleeps until the restart falls due, proposes it once, and counts the next interval from the journal.
 * The restore saga waits for the import Job of the journaled attempt and proposes its end.
 */
import {
  type ConvexInstance,
  type ConvexInstanceStatus,
  decide,
  decodeConvexInstance,
  type KubeObject
} from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Either, Supervisor as FiberSupervisor, TestClock } from "effect"
import { makeSagaRegistry } from "../src/controllers/instance/sagas/registry.js"

const key = "apps/demo"
const v1 = "1111111111111111111111111111111111111111"
const v2 = "2222222222222222222222222222222222222222"
const start = Date.parse("2026-03-01T00:00:00Z")
const entropy = { instanceSecret: new Uint8Array(32).fill(7), adminKeyNonce: new Uint8Array(12).fill(9) }

/** Lets the saga fiber run (no time passes). */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

/** The TestClock at `start` and a registry whose wake-ups are recorded in `woken`, as its reconciles see it. */
const registryAtStart = Effect.gen(function* () {
  yield* TestClock.setTime(start)
  const woken: Array<string> = []
  const registry = yield* makeSagaRegistry((woke) => Effect.sync(() => void woken.push(woke)))
  return { woken, registry, sagas: registry.in(undefined) }
})

/** `instance` with `maintenance.restartInterval` set to `interval`. */
const withRestartInterval = (instance: ConvexInstance, interval: string): ConvexInstance => ({
  ...instance,
  spec: { ...instance.spec, maintenance: { ...instance.spec.maintenance, restartInterval: interval } }
})

const instanceOf = (version: string, status?: ConvexInstanceStatus): ConvexInstance => {
  const decoded = decodeConvexInstance({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name: "demo", namespace: "apps", uid: "uid-demo", generation: 1 },
    // No pre-upgrade backup: an inPlace upgrade starts at the roll.
    spec: { environment: "dev", version, maintenance: { preUpgradeBackup: { enabled: false } } },
    ...(status === undefined ? {} : { status })
  })
  if (Either.isLeft(decoded)) throw new Error(decoded.left.message)
  return decoded.right
}

/** The cluster after `objects` were applied: every workload rolled out and ready. */
const rolledOut = (objects: ReadonlyArray<KubeObject>): ReadonlyArray<KubeObject> =>
  objects.map((object) => {
    const metadata = { ...object.metadata, generation: 1 }
    if (object.kind === "StatefulSet") {
      const status = { observedGeneration: 1, replicas: 1, readyReplicas: 1, updatedReplicas: 1 }
      return { ...object, metadata, status: { ...status, currentRevision: "r1", updateRevision: "r1" } }
    }
    if (object.kind === "Deployment") {
      const status = { observedGeneration: 1, replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1 }
      return { ...object, metadata, status }
    }
    return { ...object, metadata }
  })

/** v1 Ready, then the spec moved to v2: the journal at Rolling, the cluster still on v1 (and `onV2`, ready on v2). */
const upgradingToV2 = Effect.gen(function* () {
  const now = new Date(yield* Clock.currentTimeMillis)
  let instance = instanceOf(v1)
  let objects: ReadonlyArray<KubeObject> = []
  for (let i = 0; i < 3; i++) {
    const decision = decide(instance, { objects, entropy }, now)
    instance = instanceOf(v1, decision.status)
    objects = rolledOut(decision.desired)
  }
  const started = decide(instanceOf(v2, instance.status), { objects, entropy }, now)
  const journaled = instanceOf(v2, started.status)
  expect(journaled.status?.upgrade).toMatchObject({ phase: "Rolling", strategy: "inPlace" })
  return { instance: journaled, readyOnV1: instance, onV1: objects, onV2: rolledOut(started.desired) }
})

describe("the upgrade saga fiber", () => {
  it.scoped("waits for the roll without proposing, then fails it at its deadline by its own timer", () =>
    Effect.gen(function* () {
      const { woken, registry, sagas } = yield* registryAtStart
      const { instance, onV1 } = yield* upgradingToV2

      yield* sagas.observed(key, { instance, objects: onV1 })
      yield* settle
      expect(registry.running("upgradeMove")).toEqual([key])
      expect(sagas.proposals(key).upgradeMove).toBeUndefined()

      // Under the roll's 30 minutes nothing moves, and the instance is not woken.
      yield* TestClock.adjust("29 minutes")
      expect(sagas.proposals(key).upgradeMove).toBeUndefined()
      expect(woken).toEqual([])

      // At the deadline the saga's own timer fires: it proposes the failed roll and wakes the instance, once.
      yield* TestClock.adjust("1 minute")
      expect(sagas.proposals(key).upgradeMove).toMatchObject({
        from: instance.status?.upgrade,
        to: { phase: "Failed", failedStep: "Roll" }
      })
      expect(woken).toEqual([key])
      // The same observation again (a reconcile that has not journaled it yet): the same proposal, no new wake-up.
      yield* sagas.observed(key, { instance, objects: onV1 })
      yield* settle
      expect(woken).toEqual([key])

      // Journaled: the failed upgrade waits for a retry request, not for the saga, which ends.
      const failed = sagas.proposals(key).upgradeMove?.to
      if (failed === undefined || failed === "Done") throw new Error("no failed upgrade proposed")
      yield* sagas.observed(key, {
        instance: { ...instance, status: { ...instance.status, upgrade: failed } },
        objects: onV1
      })
      yield* settle
      expect(registry.running("upgradeMove")).toEqual([])
      expect(sagas.proposals(key).upgradeMove).toBeUndefined()
    })
  )

  it.scoped("proposes the end when the backend is ready on the new images, and ends when that is journaled", () =>
    Effect.gen(function* () {
      const { woken, registry, sagas } = yield* registryAtStart
      const { instance, onV1, onV2 } = yield* upgradingToV2

      yield* sagas.observed(key, { instance, objects: onV1 })
      yield* settle
      expect(sagas.proposals(key).upgradeMove).toBeUndefined()

      yield* sagas.observed(key, { instance, objects: onV2 })
      yield* settle
      expect(sagas.proposals(key).upgradeMove).toEqual({ from: instance.status?.upgrade, to: "Done" })
      expect(woken).toEqual([key])

      // The reconcile journals the end (decide takes the move).
      const ended = decide(
        instance,
        { objects: onV2, entropy, upgradeMove: sagas.proposals(key).upgradeMove },
        new Date(start)
      )
      expect(ended.status.upgrade).toBeUndefined()
      expect(ended.status.currentVersion).toBe(v2)
      yield* sagas.observed(key, { instance: instanceOf(v2, ended.status), objects: onV2 })
      yield* settle
      expect(registry.running("upgradeMove")).toEqual([])
    })
  )

  it.scoped("is started for a journal found mid-upgrade (a restarted operator) and interrupted by forget", () =>
    Effect.gen(function* () {
      const { registry, sagas } = yield* registryAtStart
      const { instance, onV1 } = yield* upgradingToV2
      // The journal says Rolling and the clock is past the step's start: the deadline counts from the journal.
      yield* TestClock.adjust("20 minutes")
      yield* sagas.observed(key, { instance, objects: onV1 })
      yield* settle
      expect(registry.running("upgradeMove")).toEqual([key])
      yield* TestClock.adjust("10 minutes")
      expect(sagas.proposals(key).upgradeMove?.to).toMatchObject({ phase: "Failed", failedStep: "Roll" })

      yield* registry.forget(key)
      expect(registry.running("upgradeMove")).toEqual([])
      expect(sagas.proposals(key).upgradeMove).toBeUndefined()
    })
  )
})

describe("the restart saga fiber", () => {
  it.scoped("proposes the restart when it falls due, once, and the next one an interval after the journaled one", () =>
    Effect.gen(function* () {
      const { woken, registry, sagas } = yield* registryAtStart
      // v1 Ready with the default interval (168h): the backend became ready at `start`.
      const { readyOnV1: instance, onV1 } = yield* upgradingToV2
      expect(instance.spec.maintenance.restartInterval).toBe("168h")

      yield* sagas.observed(key, { instance, objects: onV1 })
      yield* settle
      expect(registry.running("restartMove")).toEqual([key])
      yield* TestClock.adjust("167 hours")
      expect(sagas.proposals(key).restartMove).toBeUndefined()
      yield* TestClock.adjust("1 hour")
      const due = new Date(start + 168 * 3_600_000).toISOString().replace(".000Z", "Z")
      expect(sagas.proposals(key).restartMove).toEqual({ from: undefined, due })
      expect(woken).toEqual([key])

      // Not taken yet (held, or the reconcile still to come): seen again, it does not wake the instance again.
      yield* sagas.observed(key, { instance, objects: onV1 })
      yield* settle
      expect(woken).toEqual([key])

      // Journaled: the proposal is spent, and the next restart falls due an interval after it.
      const restarted = instanceOf(v1, { ...instance.status, lastRestartTime: due })
      yield* sagas.observed(key, { instance: restarted, objects: onV1 })
      yield* settle
      expect(sagas.proposals(key).restartMove).toBeUndefined()
      yield* TestClock.adjust("167 hours")
      expect(sagas.proposals(key).restartMove).toBeUndefined()
      yield* TestClock.adjust("1 hour")
      expect(sagas.proposals(key).restartMove?.from).toBe(due)
      expect(woken).toEqual([key, key])
    })
  )

  it.scoped("waiting for their restarts, the instances' sagas hold one fiber each", () =>
    Effect.gen(function* () {
      const { registry, sagas } = yield* registryAtStart
      const { readyOnV1: instance, onV1 } = yield* upgradingToV2
      const tracked = yield* FiberSupervisor.track
      const keys = Array.from({ length: 20 }, (_, k) => `apps/demo-${k}`)
      yield* Effect.forEach(keys, (each) => sagas.observed(each, { instance, objects: onV1 })).pipe(
        Effect.supervised(tracked)
      )
      yield* settle
      expect(registry.running("restartMove")).toHaveLength(keys.length)
      // A race with a sleep per wait held three fibers per saga; the registry's one Alarm times them all.
      expect((yield* tracked.value).length).toBe(keys.length)
      yield* TestClock.adjust("168 hours")
      expect(keys.every((each) => sagas.proposals(each).restartMove !== undefined)).toBe(true)
    })
  )

  it.scoped("ends when the interval is set to 0", () =>
    Effect.gen(function* () {
      const { registry, sagas } = yield* registryAtStart
      const { readyOnV1: instance, onV1 } = yield* upgradingToV2
      yield* sagas.observed(key, { instance, objects: onV1 })
      yield* settle
      expect(registry.running("restartMove")).toEqual([key])
      yield* sagas.observed(key, { instance: withRestartInterval(instance, "0s"), objects: onV1 })
      yield* settle
      expect(registry.running("restartMove")).toEqual([])
    })
  )

  it.scoped("does not run for an instance without an interval", () =>
    Effect.gen(function* () {
      const { registry, sagas } = yield* registryAtStart
      const { instance, onV1 } = yield* upgradingToV2
      yield* sagas.observed(key, { instance: withRestartInterval(instance, "0s"), objects: onV1 })
      yield* settle
      expect(registry.running("restartMove")).toEqual([])
    })
  )
})

describe("the restore saga fiber", () => {
  it.scoped("runs while the journal says the import runs, and proposes its end once the Job ended", () =>
    Effect.gen(function* () {
      const { woken, registry, sagas } = yield* registryAtStart
      const backup = {
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexBackup",
        metadata: { name: "nightly-1", namespace: "apps", creationTimestamp: "2026-02-28T00:00:00Z" },
        spec: { instanceRef: { name: "old" }, target: { pvc: {} } },
        status: { phase: "Completed", location: "pvc://old-backups/nightly-1.zip" }
      } as unknown as KubeObject
      const restoring = (status?: ConvexInstanceStatus) => {
        const decoded = decodeConvexInstance({
          apiVersion: "convex.icod.de/v1alpha1",
          kind: "ConvexInstance",
          metadata: { name: "demo", namespace: "apps", uid: "uid-demo", generation: 1 },
          spec: { environment: "dev", version: v1, restore: { from: { backup: "nightly-1" } } },
          ...(status === undefined ? {} : { status })
        })
        if (Either.isLeft(decoded)) throw new Error(decoded.left.message)
        return decoded.right
      }
      // Decide until the import Job is rendered: the journal says Running.
      let instance = restoring()
      let objects: ReadonlyArray<KubeObject> = [backup]
      for (let i = 0; i < 5 && instance.status?.restore?.phase !== "Running"; i++) {
        const decision = decide(instance, { objects, entropy }, new Date(start))
        instance = restoring(decision.status)
        objects = [backup, ...rolledOut(decision.desired)]
      }
      expect(instance.status?.restore, instance.status?.restore?.message).toMatchObject({ phase: "Running" })
      const job = objects.find((object) => object.kind === "Job" && object.metadata.name === "demo-restore")
      if (job === undefined) throw new Error("no import Job")

      // The Job runs: the saga waits.
      const running = { ...job, status: { active: 1 } }
      const others = objects.filter((object) => object !== job)
      yield* sagas.observed(key, { instance, objects: [...others, running] })
      yield* settle
      expect(registry.running("restoreMove")).toEqual([key])
      expect(sagas.proposals(key).restoreMove).toBeUndefined()

      // It succeeded: the saga proposes the end and wakes the instance.
      const succeeded = { ...job, status: { succeeded: 1, conditions: [{ type: "Complete", status: "True" }] } }
      yield* sagas.observed(key, { instance, objects: [...others, succeeded] })
      yield* settle
      expect(sagas.proposals(key).restoreMove).toMatchObject({
        from: instance.status?.restore,
        to: { phase: "Succeeded" }
      })
      expect(woken).toEqual([key])

      // Journaled: the saga is over.
      const taken = decide(
        instance,
        { objects: [...others, succeeded], entropy, restoreMove: sagas.proposals(key).restoreMove },
        new Date(start)
      )
      expect(taken.status.restore?.phase).toBe("Succeeded")
      yield* sagas.observed(key, { instance: restoring(taken.status), objects: [...others, succeeded] })
      yield* settle
      expect(registry.running("restoreMove")).toEqual([])
    })
  )
})
