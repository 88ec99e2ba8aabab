/**
 * The scheduling contract of a Controller's per-key scheduler, under TestClock: WorkQueue (one dispatcher, a
 * short fiber per run) and Supervisor (a long-lived fiber per key) both pass it.
 */
import { expect, it } from "@effect/vitest"
import { Clock, Deferred, type Duration, Effect, Exit, Fiber, Layer, Ref, Scope, TestClock } from "effect"
import { ApiError, Metrics, WorkQueue } from "../src/index.js"

export const settle = Effect.repeatN(Effect.yieldNow(), 50)

/** Builds a scheduler: `WorkQueue.make` or `Supervisor.make`. */
export type MakeScheduler = (
  options: WorkQueue.WorkQueueOptions<unknown, never>
) => Effect.Effect<WorkQueue.WorkQueue, never, Scope.Scope>

export type Behaviour =
  | "ok"
  | "fail"
  | "terminal"
  /** Fails as a 429 whose Retry-After asked for this many milliseconds. */
  | { readonly tooManyRequests: number }
  | { readonly requeueAfter: Duration.DurationInput }
  | { readonly block: Deferred.Deferred<void> }
  /** Runs until interrupted; the interruption itself takes until `release` completes. */
  | { readonly slowInterrupt: Deferred.Deferred<void> }

/** A queue whose run records (key, time) and behaves as `behaviour(key, n)` says. */
export const harness = (
  make: MakeScheduler,
  behaviour: (key: string, n: number) => Behaviour,
  options: Partial<WorkQueue.WorkQueueOptions<unknown, never>> = {}
) =>
  Effect.gen(function* () {
    const runs = yield* Ref.make<ReadonlyArray<{ key: string; at: number }>>([])
    const concurrent = yield* Ref.make({ now: 0, max: 0, perKey: new Map<string, number>(), maxPerKey: 0 })
    const interrupted = yield* Ref.make<ReadonlyArray<string>>([])
    const counts = new Map<string, number>()
    const queue = yield* make({
      name: "test",
      ...options,
      run: (key) =>
        Effect.gen(function* () {
          const at = yield* Clock.currentTimeMillis
          const n = counts.get(key) ?? 0
          counts.set(key, n + 1)
          yield* Ref.update(runs, (rs) => [...rs, { key, at }])
          yield* Ref.update(concurrent, (c) => {
            const perKey = (c.perKey.get(key) ?? 0) + 1
            c.perKey.set(key, perKey)
            return { ...c, now: c.now + 1, max: Math.max(c.max, c.now + 1), maxPerKey: Math.max(c.maxPerKey, perKey) }
          })
          const b = behaviour(key, n)
          const body: Effect.Effect<WorkQueue.Action, unknown> =
            b === "ok"
              ? Effect.succeed(WorkQueue.Action.awaitChange)
              : b === "fail"
                ? Effect.fail("boom")
                : b === "terminal"
                  ? Effect.fail(new WorkQueue.TerminalError({ message: "bad spec" }))
                  : "tooManyRequests" in b
                    ? Effect.fail(
                        new ApiError({
                          request: "PATCH /api/v1/namespaces/default/configmaps/a",
                          message: "Too many requests, please try again later.",
                          code: 429,
                          reason: "TooManyRequests",
                          retryAfterMillis: b.tooManyRequests
                        })
                      )
                    : "requeueAfter" in b
                      ? Effect.succeed(WorkQueue.Action.requeueAfter(b.requeueAfter))
                      : "slowInterrupt" in b
                        ? Effect.never.pipe(Effect.onInterrupt(() => Deferred.await(b.slowInterrupt)))
                        : Effect.as(Deferred.await(b.block), WorkQueue.Action.awaitChange)
          return yield* body.pipe(
            Effect.onInterrupt(() => Ref.update(interrupted, (ks) => [...ks, key])),
            Effect.ensuring(
              Ref.update(concurrent, (c) => {
                c.perKey.set(key, (c.perKey.get(key) ?? 1) - 1)
                return { ...c, now: c.now - 1 }
              })
            )
          )
        })
    })
    const times = (key: string) => Effect.map(Ref.get(runs), (rs) => rs.filter((r) => r.key === key).map((r) => r.at))
    return { queue, runs, times, concurrent, interrupted }
  })

/** The shared contract, as `it` blocks: call it inside a `describe`. */
export const schedulerContract = (make: MakeScheduler) => {
  it.scoped("de-duplicates triggers of one key", () =>
    Effect.gen(function* () {
      const h = yield* harness(make, () => "ok")
      yield* h.queue.enqueue("a")
      yield* h.queue.enqueue("a")
      yield* h.queue.enqueue("a")
      yield* settle
      expect(yield* h.times("a")).toEqual([0])
    })
  )

  it.scoped("never runs one key twice at once: triggers during a run make exactly one re-run", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const h = yield* harness(make, (_, n) => (n === 0 ? { block: gate } : "ok"), { concurrency: 4 })
      yield* h.queue.enqueue("a")
      yield* settle
      expect(yield* h.queue.running).toEqual(["a"])
      yield* h.queue.enqueue("a")
      yield* h.queue.enqueue("a")
      yield* settle
      expect((yield* Ref.get(h.runs)).length).toBe(1)
      yield* Deferred.succeed(gate, undefined)
      yield* settle
      expect((yield* Ref.get(h.runs)).length).toBe(2)
      expect((yield* Ref.get(h.concurrent)).maxPerKey).toBe(1)
    })
  )

  it.scoped("delayed wake-ups: the earliest wins", () =>
    Effect.gen(function* () {
      const h = yield* harness(make, () => "ok")
      yield* h.queue.enqueue("a", "10 seconds")
      yield* h.queue.enqueue("a", "5 seconds")
      yield* h.queue.enqueue("a", "20 seconds")
      yield* TestClock.adjust("4999 millis")
      yield* settle
      expect(yield* h.times("a")).toEqual([])
      yield* TestClock.adjust("1 millis")
      yield* settle
      expect(yield* h.times("a")).toEqual([5000])
      yield* TestClock.adjust("60 seconds")
      yield* settle
      expect(yield* h.times("a")).toEqual([5000])
      // An immediate trigger beats a pending delayed one.
      yield* h.queue.enqueue("b", "1 hour")
      yield* h.queue.enqueue("b")
      yield* settle
      expect(yield* h.times("b")).toEqual([65000])
    })
  )

  it.scoped("a global concurrency limit", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const h = yield* harness(make, () => ({ block: gate }), { concurrency: 2 })
      for (const k of ["a", "b", "c", "d", "e"]) yield* h.queue.enqueue(k)
      yield* settle
      expect((yield* h.queue.running).length).toBe(2)
      expect(yield* h.queue.depth).toBe(3)
      yield* Deferred.succeed(gate, undefined)
      yield* settle
      expect((yield* Ref.get(h.runs)).length).toBe(5)
      expect((yield* Ref.get(h.concurrent)).max).toBe(2)
    })
  )

  it.scoped("per-key exponential backoff 5 ms → 1000 s, reset by a success", () =>
    Effect.gen(function* () {
      let failing = true
      const h = yield* harness(make, () => (failing ? "fail" : "ok"))
      yield* h.queue.enqueue("a")
      yield* settle
      // Retries after 5, 10, 20, 40 ms …
      for (const step of [5, 10, 20, 40]) {
        yield* TestClock.adjust(step)
        yield* settle
      }
      expect(yield* h.times("a")).toEqual([0, 5, 15, 35, 75])
      expect(yield* h.queue.failures("a")).toBe(5)
      expect(yield* h.queue.dueAt("a")).toBe(75 + 80)
      // … doubling up to the cap of 1000 s.
      expect(WorkQueue.backoffDelay(18, 5, 1_000_000)).toBe(655_360)
      expect(WorkQueue.backoffDelay(19, 5, 1_000_000)).toBe(1_000_000)
      expect(WorkQueue.backoffDelay(40, 5, 1_000_000)).toBe(1_000_000)
      failing = false
      yield* TestClock.adjust(80)
      yield* settle
      expect(yield* h.queue.failures("a")).toBe(0)
      // The next failure starts again from 5 ms.
      failing = true
      yield* h.queue.enqueue("a")
      yield* settle
      const failedAt = (yield* h.times("a")).at(-1)!
      expect(yield* h.queue.dueAt("a")).toBe(failedAt + 5)
    })
  )

  it.scoped("a failure that carries Retry-After is retried no sooner than it asks, nor sooner than the backoff", () =>
    Effect.gen(function* () {
      // "slow": two 429s asking for 2 s, then success. "fast": 429s asking for 1 ms, shorter than the backoff.
      const h = yield* harness(make, (key, n) => (n >= 2 ? "ok" : { tooManyRequests: key === "slow" ? 2000 : 1 }))
      yield* h.queue.enqueue("slow")
      yield* h.queue.enqueue("fast")
      yield* settle
      expect(yield* h.queue.dueAt("slow")).toBe(2000)
      yield* TestClock.adjust(1999)
      yield* settle
      expect(yield* h.times("slow")).toEqual([0])
      expect(yield* h.times("fast")).toEqual([0, 5, 15])
      yield* TestClock.adjust(1)
      yield* settle
      expect(yield* h.times("slow")).toEqual([0, 2000])
      // The second 429 again asks for 2 s (more than the 10 ms backoff of a second failure).
      expect(yield* h.queue.dueAt("slow")).toBe(4000)
      yield* TestClock.adjust(10_000)
      yield* settle
      expect(yield* h.times("slow")).toEqual([0, 2000, 4000])
      expect(yield* h.queue.failures("slow")).toBe(0)
    })
  )

  it.scoped("terminal errors are not retried; RequeueAfter schedules the next run", () =>
    Effect.gen(function* () {
      const h = yield* harness(make, (key) => (key === "bad" ? "terminal" : { requeueAfter: "30 seconds" }))
      yield* h.queue.enqueue("bad")
      yield* h.queue.enqueue("good")
      yield* TestClock.adjust("90 seconds")
      yield* settle
      expect(yield* h.times("bad")).toEqual([0])
      expect(yield* h.times("good")).toEqual([0, 30000, 60000, 90000])
    })
  )

  it.scoped("forget interrupts the running work of a deleted key and drops its wake-ups", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const h = yield* harness(make, () => ({ block: gate }), { concurrency: 2 })
      yield* h.queue.enqueue("a")
      yield* settle
      yield* h.queue.enqueue("a", "1 second")
      yield* h.queue.forget("a")
      yield* settle
      expect(yield* Ref.get(h.interrupted)).toEqual(["a"])
      expect(yield* h.queue.running).toEqual([])
      yield* TestClock.adjust("10 seconds")
      yield* settle
      expect(yield* h.times("a")).toEqual([0])
      // The worker slot came back.
      yield* h.queue.enqueue("b")
      yield* h.queue.enqueue("c")
      yield* settle
      expect([...(yield* h.queue.running)].sort()).toEqual(["b", "c"])
      yield* Deferred.succeed(gate, undefined)
    })
  )

  it.scoped("a key enqueued again while its forgotten run is still being interrupted runs once, after it", () =>
    Effect.gen(function* () {
      const release = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const h = yield* harness(make, (_, n) => (n === 0 ? { slowInterrupt: release } : { block: gate }), {
        concurrency: 4
      })
      yield* h.queue.enqueue("a")
      yield* settle
      // The object is deleted and re-created: forget waits for the interruption, which has not finished yet.
      const forgetting = yield* Effect.fork(h.queue.forget("a"))
      yield* settle
      yield* h.queue.enqueue("a")
      yield* settle
      expect(yield* h.times("a")).toEqual([0]) // not while the old run is still being interrupted
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(forgetting)
      yield* settle
      expect(yield* h.times("a")).toEqual([0, 0]) // the re-enqueued run, after it
      expect(yield* h.queue.running).toEqual(["a"])
      // The new run is known as running: a trigger now waits for it instead of starting a second run.
      yield* h.queue.enqueue("a")
      yield* settle
      expect(yield* h.times("a")).toEqual([0, 0])
      expect((yield* Ref.get(h.concurrent)).maxPerKey).toBe(1)
      yield* Deferred.succeed(gate, undefined)
      yield* settle
      expect(yield* h.times("a")).toEqual([0, 0, 0])
    })
  )

  it.scoped("deleted and re-created twice while its first run is still being interrupted: one run, after it", () =>
    Effect.gen(function* () {
      const release = yield* Deferred.make<void>()
      const h = yield* harness(make, (_, n) => (n === 0 ? { slowInterrupt: release } : "ok"), { concurrency: 4 })
      yield* h.queue.enqueue("a")
      yield* settle
      const first = yield* Effect.fork(h.queue.forget("a"))
      yield* settle
      yield* h.queue.enqueue("a")
      yield* settle
      const second = yield* Effect.fork(h.queue.forget("a"))
      yield* settle
      yield* h.queue.enqueue("a")
      yield* settle
      expect(yield* h.times("a")).toEqual([0])
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      yield* settle
      expect(yield* h.times("a")).toEqual([0, 0])
      expect((yield* Ref.get(h.concurrent)).maxPerKey).toBe(1)
    })
  )

  it.effect("shutdown: stops dispatching, lets running work finish within the grace period, then interrupts", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const gate = yield* Deferred.make<void>()
      const h = yield* harness(make, (key) => (key === "slow" ? { block: gate } : "ok"), {
        concurrency: 1,
        gracefulShutdown: "30 seconds"
      }).pipe(Scope.extend(scope))
      yield* h.queue.enqueue("slow")
      yield* settle
      yield* h.queue.enqueue("next")
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* settle
      expect(closing.unsafePoll()).toBeNull()
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(closing)
      expect(yield* h.times("slow")).toEqual([0])
      // Nothing new started during shutdown.
      expect(yield* h.times("next")).toEqual([])
      expect(yield* Ref.get(h.interrupted)).toEqual([])

      // Work that outlives the grace period is interrupted.
      const scope2 = yield* Scope.make()
      const never = yield* Deferred.make<void>()
      const h2 = yield* harness(make, () => ({ block: never }), { gracefulShutdown: "30 seconds" }).pipe(
        Scope.extend(scope2)
      )
      yield* h2.queue.enqueue("stuck")
      yield* settle
      const closing2 = yield* Effect.fork(Scope.close(scope2, Exit.void))
      yield* settle
      yield* TestClock.adjust("30 seconds")
      yield* Fiber.join(closing2)
      expect(yield* Ref.get(h2.interrupted)).toEqual(["stuck"])
    })
  )

  it.scoped("metrics under controller-runtime's names", () =>
    Effect.gen(function* () {
      const h = yield* harness(make, (key, n) => (key === "f" && n === 0 ? "fail" : "ok"))
      yield* h.queue.enqueue("a")
      yield* h.queue.enqueue("f")
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      const text = (yield* Metrics.Metrics).render()
      expect(text).toContain('controller_runtime_reconcile_total{controller="test",result="success"} 2')
      expect(text).toContain('controller_runtime_reconcile_total{controller="test",result="error"} 1')
      expect(text).toContain('controller_runtime_reconcile_errors_total{controller="test"} 1')
      expect(text).toContain('workqueue_adds_total{name="test"} 3')
      expect(text).toContain('workqueue_retries_total{name="test"} 1')
      expect(text).toContain('workqueue_depth{name="test"} 0')
      expect(text).toContain("# TYPE controller_runtime_reconcile_time_seconds histogram")
      expect(text).toContain('controller_runtime_reconcile_time_seconds_count{controller="test"} 3')
      expect(text).toContain('workqueue_queue_duration_seconds_bucket{le="+Inf",name="test"} 3')
    }).pipe(Effect.provide(Layer.fresh(Metrics.Metrics.layer)))
  )
}
