/**
 * The per-key scheduler behind a Controller (kube-rs' scheduler + runner, controller-runtime's
 * workqueue), driven by Clock so it runs under TestClock:
 *
 * - one pending wake-up per key: triggers de-duplicate, and the earliest due time wins;
 * - never two runs of one key at once: a trigger during a run makes exactly one run afterwards;
 * - at most `concurrency` runs at a time;
 * - per-key exponential backoff on errors (5 ms → 1000 s), forgotten after a success; an error that asks to wait
 *   (`retryAfterMillis`, e.g. a 429 with `Retry-After`) is retried no sooner than it asks;
 *   `TerminalError`s are not retried; `RequeueAfter` schedules the next run;
 * - `forget(key)` drops the key and interrupts its running work (the object is gone); a wake-up arriving before
 *   that work has stopped runs after it, not beside it;
 * - closing the scope stops dispatching and lets running work finish within the grace period.
 */
import { Clock, Data, Duration, Effect, Exit, Fiber, FiberId, FiberMap, Queue, type Scope } from "effect"
import { makeScheduler } from "./internal/run-outcome.js"

/** What a reconcile asks for next. */
export type Action =
  /** Nothing until something changes. */
  | { readonly _tag: "AwaitChange" }
  /** Run again after this long (unless something changes first). */
  | { readonly _tag: "RequeueAfter"; readonly duration: Duration.Duration }

export const Action = {
  awaitChange: { _tag: "AwaitChange" } as Action,
  requeueAfter: (duration: Duration.DurationInput): Action => ({
    _tag: "RequeueAfter",
    duration: Duration.decode(duration)
  })
}

/** A failure that retrying cannot fix (bad spec, missing permission by design): logged, not retried. */
export class TerminalError extends Data.TaggedError("TerminalError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export interface WorkQueueOptions<E, R> {
  /** Used in metric labels and logs. */
  readonly name: string
  readonly run: (key: string, attempt: number) => Effect.Effect<Action, E, R>
  /** Default 1 (as controller-runtime). */
  readonly concurrency?: number
  readonly backoff?: { readonly base?: Duration.DurationInput; readonly max?: Duration.DurationInput }
  /** How long a shutdown waits for running work before interrupting it (default 30 s). */
  readonly gracefulShutdown?: Duration.DurationInput
  /** Errors for which this returns true are not retried (besides `TerminalError`). */
  readonly isTerminal?: (error: E) => boolean
}

export interface WorkQueue {
  /** Schedule `key` now, or after `delay`; an earlier pending wake-up wins. */
  readonly enqueue: (key: string, delay?: Duration.DurationInput) => Effect.Effect<void>
  /** Drop `key`: no pending run, running work interrupted, backoff forgotten. */
  readonly forget: (key: string) => Effect.Effect<void>
  /** Keys waiting (not running). */
  readonly depth: Effect.Effect<number>
  /** Keys running now. */
  readonly running: Effect.Effect<ReadonlyArray<string>>
  /** The failure count of a key (0 after a success). */
  readonly failures: (key: string) => Effect.Effect<number>
  /** When the key is next due (epoch millis), if pending. */
  readonly dueAt: (key: string) => Effect.Effect<number | undefined>
}

interface KeyState {
  due: number | undefined
  addedAt: number | undefined
  running: boolean
  failures: number
  /** Forgotten while running: the outcome of that run schedules nothing. */
  forgotten: boolean
}

export { backoffDelay, isTerminalFailure, retryDelay } from "./internal/run-outcome.js"

export const make = <E, R>(options: WorkQueueOptions<E, R>): Effect.Effect<WorkQueue, never, R | Scope.Scope> =>
  Effect.gen(function* () {
    const { metrics, labels, controllerLabels, concurrency, outcome } = yield* makeScheduler(options)

    const states = new Map<string, KeyState>()
    const wake = yield* Queue.sliding<void>(1)
    const poke = () => void Queue.unsafeOffer(wake, undefined)
    let active = 0
    let depth = 0
    const recount = () => {
      depth = 0
      for (const s of states.values()) if (s.due !== undefined && !s.running) depth++
      metrics.depth.set(labels, depth)
    }
    const stateOf = (key: string) => {
      let s = states.get(key)
      if (s === undefined) {
        s = { due: undefined, addedAt: undefined, running: false, failures: 0, forgotten: false }
        states.set(key, s)
      }
      return s
    }
    const schedule = (key: string, at: number, now: number) => {
      const s = stateOf(key)
      if (s.due === undefined) {
        s.due = at
        s.addedAt = now
        metrics.adds.inc(labels)
      } else if (at < s.due) s.due = at
      recount()
      poke()
    }

    const fibers = yield* FiberMap.make<string, void>()

    const complete = (key: string, exit: Exit.Exit<Action, E>, now: number) => {
      const s = states.get(key)
      if (s === undefined) return Effect.void
      s.running = false
      let log: Effect.Effect<void> = Effect.void
      if (s.forgotten) {
        // The key was forgotten during this run (a wake-up since then is kept): its outcome schedules nothing.
        s.forgotten = false
        s.failures = 0
      } else {
        const next = outcome(key, exit, s.failures, now)
        s.failures = next.failures
        if (next.due !== undefined) schedule(key, next.due, now)
        log = next.log
      }
      if (s.due === undefined && !s.running && s.failures === 0) states.delete(key)
      recount()
      poke()
      return log
    }

    const start = (key: string, s: KeyState, now: number) =>
      Effect.gen(function* () {
        if (s.addedAt !== undefined) metrics.queueDuration.observe(labels, (now - s.addedAt) / 1000)
        s.due = undefined
        s.addedAt = undefined
        s.running = true
        active++
        metrics.activeWorkers.set(controllerLabels, active)
        recount()
        const attempt = s.failures
        const work = Effect.gen(function* () {
          const started = yield* Clock.currentTimeMillis
          const exit = yield* Effect.exit(options.run(key, attempt))
          const ended = yield* Clock.currentTimeMillis
          metrics.reconcileTime.observe(controllerLabels, (ended - started) / 1000)
          metrics.workDuration.observe(labels, (ended - started) / 1000)
          yield* complete(key, exit, ended)
        }).pipe(
          Effect.onInterrupt(() =>
            Effect.flatMap(Clock.currentTimeMillis, (now) => complete(key, Exit.interrupt(FiberId.none), now))
          ),
          Effect.ensuring(
            Effect.sync(() => {
              active--
              metrics.activeWorkers.set(controllerLabels, active)
              poke()
            })
          )
        )
        yield* FiberMap.run(fibers, key, work)
      })

    /** Waits for a due key that is not running, then marks it running. */
    const dispatch = Effect.gen(function* () {
      for (;;) {
        if (active >= concurrency) {
          yield* Queue.take(wake)
          continue
        }
        const now = yield* Clock.currentTimeMillis
        let best: [string, KeyState] | undefined
        let nextDue: number | undefined
        for (const entry of states) {
          const s = entry[1]
          if (s.running || s.due === undefined) continue
          if (s.due <= now && (best === undefined || s.due < (best[1].due ?? 0))) best = entry
          if (s.due > now && (nextDue === undefined || s.due < nextDue)) nextDue = s.due
        }
        if (best !== undefined) {
          yield* start(best[0], best[1], now)
          continue
        }
        if (nextDue === undefined) yield* Queue.take(wake)
        else yield* Effect.raceFirst(Queue.take(wake), Effect.sleep(Duration.millis(nextDue - now)))
      }
    })

    const dispatcher = yield* Effect.forkScoped(dispatch)
    // Runs before the FiberMap's own finalizer (which interrupts whatever is left).
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* Fiber.interrupt(dispatcher)
        // Finalizers run uninterruptibly: the wait must be interruptible for the timeout to end it.
        yield* Effect.interruptible(FiberMap.awaitEmpty(fibers)).pipe(
          Effect.timeout(options.gracefulShutdown ?? "30 seconds"),
          Effect.catchAll(() => Effect.logWarning(`${options.name}: shutdown: interrupting work still running`)),
          Effect.ignore
        )
      })
    )

    return {
      enqueue: (key, delay) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => schedule(key, now + (delay === undefined ? 0 : Duration.toMillis(delay)), now))
        ),
      forget: (key) =>
        Effect.suspend(() => {
          const s = states.get(key)
          if (s?.running === true) {
            // Kept (as running) until the interrupted run has completed, so that a wake-up arriving meanwhile
            // waits for it rather than starting a second run of the key.
            s.due = undefined
            s.addedAt = undefined
            s.failures = 0
            s.forgotten = true
          } else states.delete(key)
          recount()
          poke()
          return FiberMap.remove(fibers, key)
        }),
      depth: Effect.sync(() => depth),
      running: Effect.sync(() => [...states].filter(([, s]) => s.running).map(([k]) => k)),
      failures: (key) => Effect.sync(() => states.get(key)?.failures ?? 0),
      dueAt: (key) => Effect.sync(() => states.get(key)?.due)
    } satisfies WorkQueue
  })
