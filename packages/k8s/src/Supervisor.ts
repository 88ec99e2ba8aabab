/**
 * A per-key scheduler with one long-lived fiber per key: the alternative to {@link WorkQueue} behind a
 * Controller, with the same interface, options and semantics (see WorkQueue's header), built differently:
 *
 * - a key's fiber starts on the key's first `enqueue` (in a FiberMap) and lives until `forget(key)` (the object
 *   was deleted) or until the supervisor's scope closes. It waits on its own wake-up signal or its due timer
 *   (Clock-based, so TestClock drives it); an idle key is a suspended fiber and costs no CPU;
 * - each run of a key happens on that key's fiber, so one key never runs twice at once, and a trigger during a
 *   run leaves one pending wake-up that the fiber takes after the run;
 * - a global semaphore bounds the runs across keys (`concurrency`), handing a freed permit to the key that has
 *   waited longest; a key waiting for a permit counts in `depth`;
 * - each key fiber owns a Scope, passed to `run` as its third argument: work forked there (e.g. a saga that spans
 *   several reconciles, with `Effect.forkIn(scope)`) lives as long as the key's fiber and is interrupted when the
 *   key is forgotten or the supervisor shuts down;
 * - `forget(key)` interrupts the key's fiber (its running work and its scope); a key enqueued again before that
 *   fiber has stopped gets a new fiber that first waits for the old one, so the two never run side by side;
 * - closing the scope starts no more runs, interrupts the idle keys' fibers, lets running work finish within the
 *   grace period, then interrupts what is left.
 */
import { Clock, Deferred, Duration, Effect, Exit, Fiber, FiberId, FiberMap, Scope } from "effect"
import * as Alarm from "./Alarm.js"
import * as Permits from "./internal/permits.js"
import { makeScheduler } from "./internal/run-outcome.js"
import type { Action, WorkQueue, WorkQueueOptions } from "./WorkQueue.js"

export interface SupervisorOptions<E, R> extends Omit<WorkQueueOptions<E, R>, "run"> {
  /**
   * One run of `key`. `scope` is the key fiber's Scope: it is closed when the key is forgotten (its object was
   * deleted) or the supervisor shuts down, not when this run ends. A run that only needs (key, attempt) can
   * ignore it, so a WorkQueue's `run` fits here unchanged.
   */
  readonly run: (key: string, attempt: number, scope: Scope.Scope) => Effect.Effect<Action, E, R>
}

export interface Supervisor extends WorkQueue {
  /** Key fibers alive now (one per key enqueued and not forgotten). */
  readonly fibers: Effect.Effect<number>
}

interface KeyState {
  due: number | undefined
  addedAt: number | undefined
  running: boolean
  failures: number
  /** Completed by `enqueue` to wake the key's fiber from its wait. */
  wake: Deferred.Deferred<void> | undefined
  fiber: Fiber.RuntimeFiber<void> | undefined
  /** Forgotten: no longer in the table; changes to it no longer count in `depth`. */
  removed: boolean
}

/** What a key fiber does next. */
type Step =
  | { readonly _tag: "Stop" }
  | { readonly _tag: "Run" }
  | { readonly _tag: "Wait"; readonly wake: Deferred.Deferred<void>; readonly due: number | undefined }

export const make = <E, R>(options: SupervisorOptions<E, R>): Effect.Effect<Supervisor, never, R | Scope.Scope> =>
  Effect.gen(function* () {
    const { metrics, labels, controllerLabels, concurrency, outcome } = yield* makeScheduler(options)

    const permits = Permits.make(concurrency)
    const alarm = yield* Alarm.make<string>()
    const states = new Map<string, KeyState>()
    /** Fibers of forgotten keys that are still being interrupted. */
    const stopping = new Map<string, Fiber.RuntimeFiber<void>>()
    let closing = false
    let active = 0
    let depth = 0

    /** Applies `change` to a key's state, keeping `depth` (pending and not running) up to date. */
    const update = (s: KeyState, change: () => void) => {
      const before = !s.removed && s.due !== undefined && !s.running
      change()
      const after = !s.removed && s.due !== undefined && !s.running
      if (before !== after) {
        depth += after ? 1 : -1
        metrics.depth.set(labels, depth)
      }
    }
    const wake = (s: KeyState) => {
      if (s.wake !== undefined) Deferred.unsafeDone(s.wake, Exit.void)
      s.wake = undefined
    }
    const schedule = (s: KeyState, at: number, now: number) => {
      if (s.due !== undefined && s.due <= at) return
      update(s, () => {
        if (s.due === undefined) {
          s.addedAt = now
          metrics.adds.inc(labels)
        }
        s.due = at
      })
      wake(s)
    }

    /** Records the outcome of a run; logs what needs logging. */
    // (A run that interrupted itself schedules nothing; an interruption from outside ends the key's fiber.)
    const complete = (key: string, s: KeyState, exit: Exit.Exit<Action, E>, now: number): Effect.Effect<void> => {
      const next = outcome(key, exit, s.failures, now)
      s.failures = next.failures
      if (next.due !== undefined) schedule(s, next.due, now)
      return next.log
    }

    /** One run of a key, holding a permit; nothing once shutdown has begun. */
    const runOnce = (key: string, s: KeyState, scope: Scope.Scope) =>
      Effect.suspend(() => {
        if (closing || s.due === undefined) return Effect.void
        const attempt = s.failures
        const begin = Effect.map(Clock.currentTimeMillis, (started) => {
          if (s.addedAt !== undefined) metrics.queueDuration.observe(labels, (started - s.addedAt) / 1000)
          update(s, () => {
            s.due = undefined
            s.addedAt = undefined
            s.running = true
          })
          active++
          metrics.activeWorkers.set(controllerLabels, active)
          return started
        })
        // Also when the run is interrupted (the key forgotten, or shutdown after the grace period).
        const end = Effect.sync(() => {
          update(s, () => {
            s.running = false
          })
          active--
          metrics.activeWorkers.set(controllerLabels, active)
        })
        return Effect.acquireUseRelease(
          begin,
          (started) =>
            Effect.gen(function* () {
              const exit = yield* Effect.exit(options.run(key, attempt, scope))
              const ended = yield* Clock.currentTimeMillis
              metrics.reconcileTime.observe(controllerLabels, (ended - started) / 1000)
              metrics.workDuration.observe(labels, (ended - started) / 1000)
              return [exit, ended] as const
            }),
          () => end
        ).pipe(Effect.flatMap(([exit, ended]) => complete(key, s, exit, ended)))
      })

    /** Decides synchronously, so that no wake-up can fall between looking at the state and waiting. */
    const next = (s: KeyState, now: number): Step => {
      if (closing) return { _tag: "Stop" }
      if (s.due !== undefined && s.due <= now) return { _tag: "Run" }
      s.wake = Deferred.unsafeMake<void>(FiberId.none)
      return { _tag: "Wait", wake: s.wake, due: s.due }
    }

    /** The life of a key: wait for a wake-up or the due time, run, repeat. */
    const live = (
      key: string,
      s: KeyState,
      previous: Fiber.RuntimeFiber<void> | undefined,
      scope: Scope.CloseableScope
    ) =>
      Effect.gen(function* () {
        // A forgotten fiber of the same key may still be stopping: never run beside it. Uninterruptible, so that
        // this fiber, forgotten in turn, ends only after that one (a third fiber then waits for both).
        if (previous !== undefined) yield* Effect.uninterruptible(Fiber.await(previous))
        for (;;) {
          const step = next(s, yield* Clock.currentTimeMillis)
          if (step._tag === "Stop") return
          if (step._tag === "Run") {
            yield* permits.withPermit(runOnce(key, s, scope))
            continue
          }
          // The due time by the supervisor's one Alarm, not a race with a sleep: that would hold two more fibers per
          // waiting key (Alarm.ts).
          const { wake } = step
          if (step.due !== undefined) yield* alarm.set(key, step.due, () => Deferred.unsafeDone(wake, Exit.void))
          yield* Deferred.await(wake)
        }
      }).pipe(Effect.onExit((exit) => Scope.close(scope, exit)))

    const fibers = yield* FiberMap.make<string, void>()
    const fork = yield* FiberMap.runtime(fibers)<R>()

    // Runs before the FiberMap's own finalizer (which interrupts whatever is left).
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        closing = true
        const idle = [...states.values()].filter((s) => !s.running).flatMap((s) => (s.fiber ? [s.fiber] : []))
        // Not awaited here: an idle key's scope may take a while to close, and the grace period covers that too.
        for (const fiber of idle) yield* Fiber.interruptFork(fiber)
        // Finalizers run uninterruptibly: the wait must be interruptible for the timeout to end it.
        yield* Effect.interruptible(FiberMap.awaitEmpty(fibers)).pipe(
          Effect.timeout(options.gracefulShutdown ?? "30 seconds"),
          Effect.catchAll(() => Effect.logWarning(`${options.name}: shutdown: interrupting work still running`)),
          Effect.ignore
        )
      })
    )

    const stateOf = (key: string) => {
      let s = states.get(key)
      if (s === undefined) {
        s = {
          due: undefined,
          addedAt: undefined,
          running: false,
          failures: 0,
          wake: undefined,
          fiber: undefined,
          removed: false
        }
        states.set(key, s)
        // The key's Scope is made here, not provided as a service: that would copy the fiber's FiberRefs, a few KiB
        // per idle key (bench/scheduler.ts). Log annotations are left to `run` for the same reason.
        if (!closing) s.fiber = fork(key, live(key, s, stopping.get(key), Effect.runSync(Scope.make())))
      }
      return s
    }

    return {
      enqueue: (key, delay) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => schedule(stateOf(key), now + (delay === undefined ? 0 : Duration.toMillis(delay)), now))
        ),
      forget: (key) =>
        Effect.suspend(() => {
          alarm.unsafeClear(key)
          const s = states.get(key)
          if (s === undefined) return Effect.void
          update(s, () => {
            s.removed = true
          })
          states.delete(key)
          const fiber = s.fiber
          if (fiber === undefined) return Effect.void
          stopping.set(key, fiber)
          // Dropped when the fiber has ended, even if this forget is interrupted while it waits.
          fiber.addObserver(() => {
            if (stopping.get(key) === fiber) stopping.delete(key)
          })
          return Effect.asVoid(Fiber.interrupt(fiber))
        }),
      depth: Effect.sync(() => depth),
      running: Effect.sync(() => [...states].filter(([, s]) => s.running).map(([k]) => k)),
      failures: (key) => Effect.sync(() => states.get(key)?.failures ?? 0),
      dueAt: (key) => Effect.sync(() => states.get(key)?.due),
      fibers: FiberMap.size(fibers)
    } satisfies Supervisor
  })
