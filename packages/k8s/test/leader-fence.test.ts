/**
 * A leader frozen past its lease (SIGSTOP, a long pause) must not write when it wakes up: its timers fire late, all
 * at once, and whichever runs first must find the term over by the clock. The frozen candidate here has a clock whose
 * sleeps, and a client whose requests and answers, wait while it is frozen; TestClock moves time for everyone.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, type Duration, Effect, Exit, Fiber, Ref, Scope, TestClock } from "effect"
import {
  KubeClient,
  type KubeClientService,
  type KubeObject,
  LeaderElection,
  MemoryApiServer,
  Resource,
  Transport
} from "../src/index.js"

const settle = Effect.repeatN(Effect.yieldNow(), 200)
const lease = { namespace: "default", name: "the-lock" }

/** A clock, client and work loop for candidate `identity` that stop while `frozen` and resume together. */
const freezable = (identity: string) =>
  Effect.gen(function* () {
    const running = yield* Effect.makeLatch(true)
    const base = yield* Effect.clock
    const clock: Clock.Clock = {
      [Clock.ClockTypeId]: Clock.ClockTypeId,
      unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis(),
      currentTimeMillis: base.currentTimeMillis,
      unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos(),
      currentTimeNanos: base.currentTimeNanos,
      // A timer due while frozen fires on resume.
      sleep: (duration: Duration.Duration) => Effect.zipRight(base.sleep(duration), running.await)
    }
    const kube = yield* KubeClient
    /** Writes the apiserver accepted from this candidate, as `verb kind/name`, with the time they were answered. */
    const writes = yield* Ref.make<ReadonlyArray<{ readonly what: string; readonly at: number }>>([])
    const gated = <A, E>(effect: Effect.Effect<A, E>) =>
      running.await.pipe(Effect.zipRight(effect), Effect.zipLeft(running.await))
    const written =
      (verb: string) =>
      <A, E>(effect: Effect.Effect<A, E>, kind: string, name: string) =>
        gated(effect).pipe(
          Effect.tap(() =>
            Effect.flatMap(base.currentTimeMillis, (at) =>
              Ref.update(writes, (all) => [...all, { what: `${verb} ${kind}/${name}`, at }])
            )
          )
        )
    const client: KubeClientService = {
      ...kube,
      get: (resource, name, options) => gated(kube.get(resource, name, options)),
      list: (resource, options) => gated(kube.list(resource, options)),
      create: (resource, object, options) =>
        written("create")(kube.create(resource, object, options), resource.kind, object.metadata.name ?? ""),
      replace: (resource, object, options) =>
        written("replace")(kube.replace(resource, object, options), resource.kind, object.metadata.name ?? ""),
      apply: (resource, object, options) =>
        written("apply")(kube.apply(resource, object, options), resource.kind, object.metadata.name ?? ""),
      patch: (resource, name, patch, options) =>
        written("patch")(kube.patch(resource, name, patch, options), resource.kind, name),
      patchStatus: (resource, name, status, options) =>
        written("patchStatus")(kube.patchStatus(resource, name, status, options), resource.kind, name),
      delete: (resource, name, options) => written("delete")(kube.delete(resource, name, options), resource.kind, name)
    }
    const scope = yield* Scope.make()
    const inside = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      effect.pipe(Effect.provideService(KubeClient, client), Effect.withClock(clock))
    const leadership = yield* inside(LeaderElection.make({ ...lease, identity })).pipe(Scope.extend(scope))
    const terms = yield* Ref.make(0)
    // The work of a leader: every second, write a ConfigMap through the fenced client.
    const work = Effect.gen(function* () {
      yield* Ref.update(terms, (n) => n + 1)
      const fenced = yield* KubeClient
      for (let n = 0; ; n++) {
        yield* Effect.sleep("1 second")
        yield* fenced.apply(
          Resource.ConfigMap,
          {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: `work-${identity}`, namespace: "default" },
            data: { n: String(n) }
          } as KubeObject,
          { fieldManager: identity, force: true }
        )
      }
    }).pipe(Effect.provide(LeaderElection.fenceWrites(leadership)))
    const worker = yield* Effect.fork(inside(LeaderElection.whileLeader(leadership, work)))
    const since = (at: number) =>
      Effect.map(Ref.get(writes), (all) => all.filter((write) => write.at >= at).map((write) => write.what))
    return {
      leadership,
      freeze: running.close,
      thaw: running.open,
      writesSince: since,
      terms: Ref.get(terms),
      close: Effect.zipRight(Fiber.interrupt(worker), Scope.close(scope, Exit.void))
    }
  })

const holder = Effect.flatMap(KubeClient, (kube) =>
  Effect.map(
    kube.get(Resource.Lease, lease.name, { namespace: lease.namespace }),
    (l) => l.spec as Record<string, unknown>
  )
)

describe("LeaderElection: a leader frozen past its lease", () => {
  it.effect("writes nothing on resume, does not take the Lease back, and stays a standby", () =>
    Effect.gen(function* () {
      const a = yield* freezable("a")
      yield* settle
      yield* TestClock.adjust("3500 millis")
      yield* settle
      expect(yield* a.leadership.isLeader).toBe(true)
      expect(yield* a.writesSince(0)).toContain("apply ConfigMap/work-a")
      const scope = yield* Scope.make()
      const b = yield* LeaderElection.make({ ...lease, identity: "b" }).pipe(Scope.extend(scope))
      yield* settle
      expect(yield* b.isLeader).toBe(false)

      // a freezes at 3.5 s (its last renewal began at 2 s); b takes over once the Lease is 15 s old to it.
      yield* a.freeze
      yield* TestClock.adjust("30 seconds")
      yield* settle
      expect(yield* b.isLeader).toBe(true)
      expect((yield* holder).holderIdentity).toBe("b")
      const thawed = yield* Clock.currentTimeMillis
      yield* a.thaw
      yield* settle
      // Its work loop's timer and its renewal fire together on resume: the work finds the term over, and so does
      // the renewal, which steps down without writing the Lease.
      expect(yield* a.writesSince(thawed)).toEqual([])
      expect(yield* a.leadership.isLeader).toBe(false)
      yield* TestClock.adjust("60 seconds")
      yield* settle
      expect(yield* a.writesSince(thawed)).toEqual([])
      expect(yield* a.leadership.isLeader).toBe(false)
      expect(yield* a.terms).toBe(1)
      const after = yield* holder
      expect(after.holderIdentity).toBe("b")
      expect(after.leaseTransitions).toBe(1)
      yield* a.close
      yield* Scope.close(scope, Exit.void)
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.effect("frozen past its renew deadline but not its lease: the old term writes nothing, a new term begins", () =>
    Effect.gen(function* () {
      const a = yield* freezable("a")
      yield* settle
      yield* TestClock.adjust("2500 millis")
      yield* settle
      expect(yield* a.terms).toBe(1)
      // Frozen from 2.5 s to 14.5 s: the term (renewed at 2 s) ended at 12 s; nobody else wants the Lease.
      yield* a.freeze
      yield* TestClock.adjust("12 seconds")
      const thawed = yield* Clock.currentTimeMillis
      yield* a.thaw
      yield* settle
      // The first writes after the resume are the Lease taken again (a new term), then that term's work.
      const writes = yield* a.writesSince(thawed)
      expect(writes[0]).toBe("replace Lease/the-lock")
      expect(yield* a.terms).toBe(2)
      expect(yield* a.leadership.isLeader).toBe(true)
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(yield* a.writesSince(thawed)).toContain("apply ConfigMap/work-a")
      yield* a.close
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.effect("work the fence interrupted ends only its term: whileLeader runs it again in the next", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryApiServer
      const scope = yield* Scope.make()
      const a = yield* LeaderElection.make({ ...lease, identity: "a" }).pipe(Scope.extend(scope))
      const runs = yield* Ref.make(0)
      // Work that ends interrupted on its own, as when its write meets the fence of a term that has ended.
      const work = Effect.zipRight(
        Ref.update(runs, (n) => n + 1),
        Effect.interrupt
      )
      const worker = yield* Effect.fork(LeaderElection.whileLeader(a, work))
      yield* settle
      expect(yield* Ref.get(runs)).toBe(1)
      // The apiserver is out of reach past the renew deadline: the term ends; then it comes back.
      yield* memory.failNext(1000, (request) => new Transport({ request, message: "apiserver unreachable" }))
      yield* TestClock.adjust("10 seconds")
      yield* settle
      expect(yield* a.isLeader).toBe(false)
      yield* memory.failNext(0, (request) => new Transport({ request, message: "" }))
      yield* TestClock.adjust("5 seconds")
      yield* settle
      expect(yield* a.isLeader).toBe(true)
      expect(yield* Ref.get(runs)).toBe(2)
      yield* Fiber.interrupt(worker)
      yield* Scope.close(scope, Exit.void)
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )
})
