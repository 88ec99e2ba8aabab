/** Leader election and the event recorder against the memory apiserver, under TestClock. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Ref, Scope, TestClock } from "effect"
import {
  EventRecorder,
  KubeClient,
  LeaderElection,
  MemoryApiServer,
  MicroTime,
  Resource,
  Transport
} from "../src/index.js"

const settle = Effect.repeatN(Effect.yieldNow(), 50)
const lease = { namespace: "default", name: "the-lock" }

const candidate = (identity: string, extra: Partial<LeaderElection.LeaderElectionOptions> = {}) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const leadership = yield* LeaderElection.make({ ...lease, identity, ...extra }).pipe(Scope.extend(scope))
    return { leadership, scope }
  })

const holder = Effect.flatMap(KubeClient, (kube) =>
  Effect.map(
    kube.get(Resource.Lease, lease.name, { namespace: lease.namespace }),
    (l) => l.spec as Record<string, unknown>
  )
)

describe("LeaderElection", () => {
  it.effect("one leader; a crashed leader is replaced once its lease expires (15 s)", () =>
    Effect.gen(function* () {
      const a = yield* candidate("a", { releaseOnCancel: false })
      yield* settle
      const b = yield* candidate("b")
      yield* settle
      expect(yield* a.leadership.isLeader).toBe(true)
      expect(yield* b.leadership.isLeader).toBe(false)
      const first = yield* holder
      expect(first.holderIdentity).toBe("a")
      expect(first.leaseTransitions).toBe(0)
      expect(first.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
      // a renews every 2 s: b stays a follower, transitions stay 0.
      yield* TestClock.adjust("60 seconds")
      yield* settle
      expect(yield* b.leadership.isLeader).toBe(false)
      expect((yield* holder).leaseTransitions).toBe(0)
      // a dies without releasing; b takes over 15 s after it last saw a renewal change (a renewed at
      // most 2 s before dying; b polls every 2–4.4 s): not before 13 s, at the latest after 24 s.
      yield* Scope.close(a.scope, Exit.void)
      yield* TestClock.adjust("12900 millis")
      yield* settle
      expect(yield* b.leadership.isLeader).toBe(false)
      yield* TestClock.adjust("11100 millis")
      yield* settle
      expect(yield* b.leadership.isLeader).toBe(true)
      const taken = yield* holder
      expect(taken.holderIdentity).toBe("b")
      expect(taken.leaseTransitions).toBe(1)
      // b releases on close.
      yield* Scope.close(b.scope, Exit.void)
      expect((yield* holder).holderIdentity).toBe("")
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.effect("a leader that finds another holder in the Lease steps down at that renewal, not one period later", () =>
    Effect.gen(function* () {
      const a = yield* candidate("a", { releaseOnCancel: false })
      const stopped = yield* Ref.make(false)
      const work = yield* Effect.fork(
        LeaderElection.whileLeader(
          a.leadership,
          Effect.onInterrupt(Effect.never, () => Ref.set(stopped, true))
        )
      )
      yield* settle
      expect(yield* a.leadership.isLeader).toBe(true)
      // Someone else writes the Lease (another candidate that judged it expired, or an administrator).
      const kube = yield* KubeClient
      const current = yield* kube.get(Resource.Lease, lease.name, { namespace: lease.namespace })
      yield* kube.replace(Resource.Lease, {
        ...current,
        spec: { ...(current.spec as Record<string, unknown>), holderIdentity: "b" }
      })
      // a's next renewal (2 s after the last) finds b: a is a follower, and its work stopped, as soon as that
      // answer is in.
      yield* TestClock.adjust("2000 millis")
      yield* settle
      expect(yield* a.leadership.isLeader).toBe(false)
      expect(yield* Ref.get(stopped)).toBe(true)
      expect((yield* holder).holderIdentity).toBe("b")
      yield* Fiber.interrupt(work)
      yield* Scope.close(a.scope, Exit.void)
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.effect("a released lease is taken over within one retry period", () =>
    Effect.gen(function* () {
      const a = yield* candidate("a")
      yield* settle
      const b = yield* candidate("b")
      yield* settle
      yield* Scope.close(a.scope, Exit.void)
      yield* TestClock.adjust("4400 millis")
      yield* settle
      expect(yield* b.leadership.isLeader).toBe(true)
      yield* Scope.close(b.scope, Exit.void)
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.effect(
    "a leader that cannot renew steps down 10 s (the renew deadline) after its last renewal; whileLeader interrupts its work",
    () =>
      Effect.gen(function* () {
        const memory = yield* MemoryApiServer
        const a = yield* candidate("a")
        const runs = yield* Ref.make(0)
        const interrupted = yield* Ref.make(0)
        const work = yield* LeaderElection.whileLeader(
          a.leadership,
          Effect.zipRight(
            Ref.update(runs, (n) => n + 1),
            Effect.never
          ).pipe(Effect.onInterrupt(() => Ref.update(interrupted, (n) => n + 1)))
        ).pipe(Effect.fork)
        yield* settle
        expect(yield* Ref.get(runs)).toBe(1)
        yield* memory.failNext(1000, (request) => new Transport({ request, message: "apiserver unreachable" }))
        // The last renewal began at 0 s; attempts every 2 s fail, and the term ends at 10 s by the clock.
        yield* TestClock.adjust("9900 millis")
        yield* settle
        expect(yield* a.leadership.isLeader).toBe(true)
        yield* TestClock.adjust("100 millis")
        yield* settle
        expect(yield* a.leadership.isLeader).toBe(false)
        expect(yield* Ref.get(interrupted)).toBe(1)
        // The apiserver comes back: a is still the holder on record and leads again.
        yield* memory.failNext(0, (request) => new Transport({ request, message: "" }))
        yield* TestClock.adjust("5 seconds")
        yield* settle
        expect(yield* a.leadership.isLeader).toBe(true)
        expect(yield* Ref.get(runs)).toBe(2)
        yield* Fiber.interrupt(work)
        yield* Scope.close(a.scope, Exit.void)
      }).pipe(Effect.provide(KubeClient.layerMemory()))
  )
})

describe("EventRecorder", () => {
  it.effect("writes events.k8s.io/v1 Events with MicroTime and folds repeats into a series", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const recorder = yield* EventRecorder
      const regarding = yield* kube.create(Resource.ConfigMap, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "subject", namespace: "default" }
      })
      const spec = {
        regarding,
        type: "Warning",
        reason: "SecretMissing",
        action: "Reconcile",
        note: "no Secret pg"
      } as const
      yield* recorder.record(spec)
      yield* TestClock.adjust("1 minute")
      yield* recorder.record(spec)
      yield* recorder.record(spec)
      yield* recorder.record({ ...spec, reason: "Other" })
      const events = (yield* kube.list(Resource.Event, { namespace: "default" })).items
      expect(events).toHaveLength(2)
      const series = events.find((e) => e.reason === "SecretMissing")!
      expect(series.eventTime).toBe(MicroTime.format(0))
      expect(series.series).toEqual({ count: 3, lastObservedTime: "1970-01-01T00:01:00.000000Z" })
      expect(series.regarding).toMatchObject({ kind: "ConfigMap", name: "subject", uid: regarding.metadata.uid })
      expect(series.reportingController).toBe("test/controller")
      // After the 6-minute window a repeat is a new Event.
      yield* TestClock.adjust("7 minutes")
      yield* recorder.record(spec)
      expect((yield* kube.list(Resource.Event, { namespace: "default" })).items).toHaveLength(3)
    }).pipe(
      Effect.provide(EventRecorder.layer({ controller: "test/controller", instance: "test-0" })),
      Effect.provide(KubeClient.layerMemory())
    )
  )

  it.effect("MicroTime has six fractional digits", () =>
    Effect.sync(() => {
      expect(MicroTime.format(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe("2026-01-02T03:04:05.678000Z")
    })
  )
})
