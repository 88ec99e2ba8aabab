/** Polling until a condition holds, failing with a description after a deadline. */
import { Duration, Effect, Option, Schedule } from "effect"
import { ClusterError } from "./errors.js"

export interface WaitOptions {
  readonly component: string
  readonly description: string
  readonly timeout: Duration.DurationInput
  readonly interval?: Duration.DurationInput
}

/**
 * Runs `check` until it yields `Some`, at `interval`; errors of `check` count as "not yet" and the
 * last one is reported when the deadline passes. `guard` runs first on each round and may fail at
 * once (for example when a process has exited).
 */
export const waitUntil = <A, E, R>(
  check: Effect.Effect<Option.Option<A>, E, R>,
  options: WaitOptions,
  guard: Effect.Effect<void, ClusterError> = Effect.void
): Effect.Effect<A, ClusterError, R> => {
  let last = "condition not met"
  const round = Effect.flatMap(guard, () =>
    check.pipe(
      Effect.mapError((error): ClusterError | "retry" => {
        last = error instanceof Error ? error.message : String(error)
        return "retry"
      }),
      Effect.flatMap((result) => (Option.isSome(result) ? Effect.succeed(result.value) : Effect.fail("retry" as const)))
    )
  )
  return round.pipe(
    Effect.retry({
      schedule: Schedule.spaced(options.interval ?? "100 millis"),
      while: (error) => error === "retry"
    }),
    Effect.timeoutFail({
      duration: options.timeout,
      onTimeout: () =>
        new ClusterError({
          component: options.component,
          reason: `timed out after ${Duration.format(Duration.decode(options.timeout))} waiting for ${options.description} (last: ${last})`
        })
    }),
    Effect.catchIf(
      (error): error is "retry" => error === "retry",
      () => Effect.die("unreachable")
    )
  )
}
