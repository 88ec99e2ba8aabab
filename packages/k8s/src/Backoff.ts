/**
 * Exponential backoff with jitter that resets after a healthy period (kube-rs `DefaultBackoff`:
 * 0.8 s → 30 s, ×2, reset after 120 s without failures). A small stateful helper, driven by Clock
 * and Random so tests run it under TestClock.
 */
import { Clock, Duration, Effect, Random } from "effect"

export interface BackoffOptions {
  readonly initial?: Duration.DurationInput
  readonly max?: Duration.DurationInput
  readonly factor?: number
  /** 0: none; 0.5 (default): the delay is uniformly in [d/2, d]. */
  readonly jitter?: number
  /** A failure this long after the previous one starts from `initial` again. */
  readonly resetAfter?: Duration.DurationInput
}

export interface Backoff {
  /** The delay before the next attempt after a failure now. */
  readonly next: Effect.Effect<Duration.Duration>
  /** Forget past failures. */
  readonly reset: Effect.Effect<void>
  readonly attempts: Effect.Effect<number>
}

export const defaults = {
  initial: Duration.millis(800),
  max: Duration.seconds(30),
  factor: 2,
  jitter: 0.5,
  resetAfter: Duration.seconds(120)
} as const

export const make = (options: BackoffOptions = {}): Effect.Effect<Backoff> =>
  Effect.sync(() => {
    const initial = Duration.toMillis(options.initial ?? defaults.initial)
    const max = Duration.toMillis(options.max ?? defaults.max)
    const factor = options.factor ?? defaults.factor
    const jitter = options.jitter ?? defaults.jitter
    const resetAfter = Duration.toMillis(options.resetAfter ?? defaults.resetAfter)
    let attempt = 0
    let lastFailure: number | undefined
    const next = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      if (lastFailure !== undefined && now - lastFailure > resetAfter) attempt = 0
      const base = Math.min(max, initial * factor ** attempt)
      attempt++
      const r = jitter === 0 ? 0 : yield* Random.next
      const delay = base * (1 - jitter * r)
      // The next failure counts from the end of this delay.
      lastFailure = now + delay
      return Duration.millis(Math.round(delay))
    })
    return {
      next,
      reset: Effect.sync(() => {
        attempt = 0
        lastFailure = undefined
      }),
      attempts: Effect.sync(() => attempt)
    }
  })
