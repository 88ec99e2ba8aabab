/**
 * A counting semaphore that hands a released permit to the longest waiter, waiters that asked `ahead` before the
 * others. Effect's Semaphore wakes every waiter on each release (they all retry), which costs O(waiters) per
 * release: with a fiber per key and thousands of keys due at once, that is O(keys²) work to drain them.
 */
import { Deferred, Effect, Exit, FiberId } from "effect"

interface Waiter {
  readonly signal: Deferred.Deferred<void>
  granted: boolean
}

export interface Permits {
  /**
   * Runs `effect` holding one permit; waiting for it is interruptible. With `ahead`, the wait is behind the other
   * `ahead` waiters only.
   */
  readonly withPermit: <A, E, R>(effect: Effect.Effect<A, E, R>, ahead?: boolean) => Effect.Effect<A, E, R>
}

export const make = (permits: number): Permits => {
  let free = permits
  // A Set keeps insertion order and removes an interrupted waiter in O(1).
  const first = new Set<Waiter>()
  const rest = new Set<Waiter>()
  const release = () => {
    const queue = first.size > 0 ? first : rest
    const next = queue.values().next()
    if (next.done === true) {
      free++
      return
    }
    queue.delete(next.value)
    next.value.granted = true
    Deferred.unsafeDone(next.value.signal, Exit.void)
  }
  const acquire = (ahead: boolean) =>
    Effect.suspend(() => {
      if (free > 0) {
        free--
        return Effect.void
      }
      const waiter: Waiter = { signal: Deferred.unsafeMake<void>(FiberId.none), granted: false }
      const waiters = ahead ? first : rest
      waiters.add(waiter)
      return Deferred.await(waiter.signal).pipe(
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            // Interrupted after the permit was handed over: pass it on.
            if (waiter.granted) release()
            else waiters.delete(waiter)
          })
        )
      )
    })
  return {
    withPermit: (effect, ahead = false) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(acquire(ahead)), () => Effect.ensuring(restore(effect), Effect.sync(release)))
      )
  }
}
