/**
 * A counting semaphore that hands a released permit to the longest waiter. Effect's Semaphore wakes every
 * waiter on each release (they all retry), which costs O(waiters) per release: with a fiber per key and
 * thousands of keys due at once, that is O(keys²) work to drain them.
 */
import { Deferred, Effect, Exit, FiberId } from "effect"

interface Waiter {
  readonly signal: Deferred.Deferred<void>
  granted: boolean
}

export interface Permits {
  /** Runs `effect` holding one permit; waiting for it is interruptible. */
  readonly withPermit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export const make = (permits: number): Permits => {
  let free = permits
  // A Set keeps insertion order and removes an interrupted waiter in O(1).
  const waiters = new Set<Waiter>()
  const release = () => {
    const next = waiters.values().next()
    if (next.done === true) {
      free++
      return
    }
    waiters.delete(next.value)
    next.value.granted = true
    Deferred.unsafeDone(next.value.signal, Exit.void)
  }
  const acquire = Effect.suspend(() => {
    if (free > 0) {
      free--
      return Effect.void
    }
    const waiter: Waiter = { signal: Deferred.unsafeMake<void>(FiberId.none), granted: false }
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
    withPermit: (effect) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(acquire), () => Effect.ensuring(restore(effect), Effect.sync(release)))
      )
  }
}
