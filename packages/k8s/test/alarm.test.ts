/** Alarm: many keys' due times on one fiber, by the Clock. Under TestClock. */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Supervisor as FiberSupervisor, TestClock } from "effect"
import { Action, Alarm, Supervisor } from "../src/index.js"
import { settle } from "./scheduler-contract.js"

describe("Alarm", () => {
  it.scoped("fires each key's alarm once at its time; a key's new alarm replaces the old; clear drops it", () =>
    Effect.gen(function* () {
      const fired: Array<string> = []
      const alarm = yield* Alarm.make<string>()
      const at = (seconds: number) => Duration.toMillis(Duration.seconds(seconds))
      yield* alarm.set("a", at(10), () => fired.push("a@10"))
      yield* alarm.set("b", at(5), () => fired.push("b@5"))
      yield* alarm.set("c", at(7), () => fired.push("c@7"))
      yield* alarm.set("a", at(3), () => fired.push("a@3"))
      yield* alarm.clear("c")
      yield* settle
      expect(fired).toEqual([])
      expect(yield* alarm.size).toBe(2)
      yield* TestClock.adjust("2 seconds")
      yield* settle
      expect(fired).toEqual([])
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(fired).toEqual(["a@3"])
      yield* TestClock.adjust("10 seconds")
      yield* settle
      expect(fired).toEqual(["a@3", "b@5"])
      expect(yield* alarm.size).toBe(0)
      // A time that has passed fires at once.
      yield* alarm.set("d", 0, () => fired.push("d@0"))
      expect(fired).toEqual(["a@3", "b@5", "d@0"])
    })
  )

  it.scoped("an alarm set earlier than every other wakes the Alarm's fiber from its longer sleep", () =>
    Effect.gen(function* () {
      const fired: Array<string> = []
      const alarm = yield* Alarm.make<string>()
      yield* alarm.set("late", Duration.toMillis("1 hour"), () => fired.push("late"))
      yield* settle
      yield* alarm.set("soon", Duration.toMillis("1 second"), () => fired.push("soon"))
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(fired).toEqual(["soon"])
    })
  )

  it.scoped("a Supervisor's keys waiting for their due time hold one fiber each, and run when it comes", () =>
    Effect.gen(function* () {
      const tracked = yield* FiberSupervisor.track
      let runs = 0
      const supervisor = yield* Supervisor.make({
        name: "test",
        concurrency: 4,
        run: () =>
          Effect.sync(() => {
            runs++
            return Action.requeueAfter(Duration.hours(1))
          })
      }).pipe(Effect.supervised(tracked))
      const keys = 50
      for (let k = 0; k < keys; k++) yield* supervisor.enqueue(`key-${k}`)
      yield* settle
      expect(runs).toBe(keys)
      // One fiber per key and the Alarm's, where a race with a sleep per key held three per key.
      const fibers = (yield* tracked.value).length
      expect(fibers).toBeGreaterThanOrEqual(keys)
      expect(fibers).toBeLessThanOrEqual(keys + 5)
      yield* TestClock.adjust("1 hour")
      yield* settle
      expect(runs).toBe(2 * keys)
    })
  )
})
