/**
 * What WorkQueue and Supervisor share: their settings and metrics at start, the retry rules (backoff, `Retry-After`,
 * terminal errors), and what the outcome of one run comes to (the key's failure count, when it runs again, the
 * metrics, the log line). WorkQueue.ts re-exports the rules that are public.
 *
 * @module
 */
import { Cause, Duration, Effect, Exit } from "effect"
import { retryAfterOf } from "../errors.js"
import { controllerMetrics, registry } from "../Metrics.js"

/** controller-runtime's per-item backoff: base × 2^(failures−1), capped. */
export const backoffDelay = (failures: number, base: number, max: number) =>
  Math.min(max, base * 2 ** Math.max(0, failures - 1))

/**
 * The delay before retrying a failed run: the key's backoff, or longer when the failure asks to wait longer (its
 * error, or an error it wraps as `cause`, carries `retryAfterMillis`: the apiserver's `Retry-After`).
 */
export const retryDelay = <E>(cause: Cause.Cause<E>, failures: number, base: number, max: number): number => {
  const failure = Cause.failureOption(cause)
  const asked = failure._tag === "Some" ? retryAfterOf(failure.value) : undefined
  return Math.max(backoffDelay(failures, base, max), asked ?? 0)
}

/** Whether a failed run is not to be retried: a `TerminalError`, or an error `isTerminal` accepts. */
export const isTerminalFailure = <E>(cause: Cause.Cause<E>, isTerminal?: (error: E) => boolean): boolean => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "None") return false
  const error = failure.value
  return (
    (typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "TerminalError") ||
    isTerminal?.(error) === true
  )
}

/** What a run returns (WorkQueue's `Action`). */
type RunAction =
  | { readonly _tag: "AwaitChange" }
  | { readonly _tag: "RequeueAfter"; readonly duration: Duration.Duration }

/** The options both schedulers take that this module reads. */
interface SchedulerOptions<E> {
  readonly name: string
  readonly concurrency?: number
  readonly backoff?: { readonly base?: Duration.DurationInput; readonly max?: Duration.DurationInput }
  readonly isTerminal?: (error: E) => boolean
}

/** A scheduler's settings and metrics (controller-runtime's names), the gauges set to their starting values. */
export const makeScheduler = <E>(options: SchedulerOptions<E>) =>
  Effect.map(registry, (registry) => {
    const metrics = controllerMetrics(registry)
    const labels = { name: options.name }
    const controllerLabels = { controller: options.name }
    const concurrency = Math.max(1, options.concurrency ?? 1)
    const base = Duration.toMillis(options.backoff?.base ?? "5 millis")
    const max = Duration.toMillis(options.backoff?.max ?? "1000 seconds")
    metrics.maxConcurrent.set(controllerLabels, concurrency)
    metrics.activeWorkers.set(controllerLabels, 0)
    metrics.depth.set(labels, 0)

    /** What the outcome of a run of `key`, its failures so far at `failures`, comes to. */
    const outcome = (
      key: string,
      exit: Exit.Exit<RunAction, E>,
      failures: number,
      now: number
    ): { readonly failures: number; readonly due: number | undefined; readonly log: Effect.Effect<void> } => {
      if (Exit.isSuccess(exit)) {
        const action = exit.value
        metrics.reconcileTotal.inc({
          ...controllerLabels,
          result: action._tag === "RequeueAfter" ? "requeue_after" : "success"
        })
        const due = action._tag === "RequeueAfter" ? now + Duration.toMillis(action.duration) : undefined
        return { failures: 0, due, log: Effect.void }
      }
      // Interrupted (the key forgotten, or shutting down): nothing to schedule.
      if (Cause.isInterruptedOnly(exit.cause)) return { failures, due: undefined, log: Effect.void }
      metrics.reconcileErrors.inc(controllerLabels)
      metrics.reconcileTotal.inc({ ...controllerLabels, result: "error" })
      if (isTerminalFailure(exit.cause, options.isTerminal)) {
        metrics.terminalErrors.inc(controllerLabels)
        return {
          failures: 0,
          due: undefined,
          log: Effect.logError(`${options.name}: ${key}: terminal error, not retried`, exit.cause)
        }
      }
      metrics.retries.inc(labels)
      const delay = retryDelay(exit.cause, failures + 1, base, max)
      return {
        failures: failures + 1,
        due: now + delay,
        log: Effect.logWarning(
          `${options.name}: ${key}: reconcile failed (attempt ${failures + 1}), retrying in ${Duration.format(Duration.millis(delay))}`,
          exit.cause
        )
      }
    }
    return { metrics, labels, controllerLabels, concurrency, outcome }
  })
