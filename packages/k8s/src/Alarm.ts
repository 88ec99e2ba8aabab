/**
 * Timers by the Clock for many keys on one fiber. A fiber that waits for "a signal, or a time" with
 * `Effect.raceFirst(Deferred.await(signal), Effect.sleep(…))` holds two more fibers for as long as it waits; with a
 * fiber per object that wait is the idle state of every object, so the race costs two fibers per object (their
 * stacks and contexts) at rest. An Alarm keeps one due time per key and one fiber for all of them: the waiting fiber
 * sets its key's alarm to a callback that completes its signal, and awaits the signal alone.
 *
 * The Clock is the Effect Clock, so a TestClock drives an Alarm as it drives `Effect.sleep`. Setting a key's alarm
 * replaces the key's earlier one; an alarm whose time has come calls its callback once, on the Alarm's fiber, and is
 * dropped. Waking the fiber scans every alarm (a few thousand keys cost microseconds), which happens when an alarm
 * is due or when one earlier than all others is set.
 *
 * @module
 */
import { Clock, Deferred, Duration, Effect, Exit, FiberId, type Scope } from "effect"

/** Due times by key, fired on one fiber (see the module's header). */
export interface Alarm<K> {
  /**
   * Calls `fire` at `atMillis` by the Clock, replacing `key`'s earlier alarm; when that time has passed, at once (on
   * the caller's fiber). `fire` runs synchronously: it must not throw, and should only signal (complete a Deferred).
   */
  readonly set: (key: K, atMillis: number, fire: () => void) => Effect.Effect<void>
  /** Drops `key`'s alarm, if it has one. */
  readonly clear: (key: K) => Effect.Effect<void>
  /** `clear`, synchronously (for a caller already inside `Effect.sync` or `Effect.suspend`). */
  readonly unsafeClear: (key: K) => void
  /** Alarms set and not yet fired. */
  readonly size: Effect.Effect<number>
}

interface Pending {
  readonly at: number
  readonly fire: () => void
}

/** An Alarm whose fiber lives in the current Scope. */
export const make = <K>(): Effect.Effect<Alarm<K>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const alarms = new Map<K, Pending>()
    /** The time the fiber sleeps until; undefined while it waits for a first alarm. */
    let next: number | undefined
    /** Completed to have the fiber look again (an alarm earlier than `next` was set). */
    let poke = Deferred.unsafeMake<void>(FiberId.none)

    const loop = Effect.gen(function* () {
      for (;;) {
        const now = yield* Clock.currentTimeMillis
        let earliest: number | undefined
        for (const [key, alarm] of alarms) {
          if (alarm.at <= now) {
            alarms.delete(key)
            alarm.fire()
          } else if (earliest === undefined || alarm.at < earliest) {
            earliest = alarm.at
          }
        }
        next = earliest
        poke = Deferred.unsafeMake<void>(FiberId.none)
        yield* earliest === undefined
          ? Deferred.await(poke)
          : Effect.raceFirst(Deferred.await(poke), Effect.sleep(Duration.millis(earliest - now)))
      }
    })
    yield* Effect.forkScoped(loop)

    return {
      set: (key, atMillis, fire) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => {
            if (atMillis <= now) {
              alarms.delete(key)
              fire()
              return
            }
            alarms.set(key, { at: atMillis, fire })
            if (next === undefined || atMillis < next) {
              next = atMillis
              Deferred.unsafeDone(poke, Exit.void)
            }
          })
        ),
      clear: (key) => Effect.sync(() => void alarms.delete(key)),
      unsafeClear: (key) => void alarms.delete(key),
      size: Effect.sync(() => alarms.size)
    } satisfies Alarm<K>
  })
