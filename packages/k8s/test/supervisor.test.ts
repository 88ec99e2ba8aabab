/** The Supervisor: WorkQueue's contract, plus what a long-lived fiber per key adds. Under TestClock. */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, FiberId, Ref, Scope, TestClock } from "effect"
import { Action, Supervisor } from "../src/index.js"
import { schedulerContract, settle } from "./scheduler-contract.js"

describe("Supervisor", () => {
  describe("the scheduler contract", () => {
    schedulerContract(Supervisor.make)
  })

  it.scoped("runs each key on one long-lived fiber, started on its first enqueue and ended by forget", () =>
    Effect.gen(function* () {
      const runs: Array<{ key: string; fiber: string }> = []
      const supervisor = yield* Supervisor.make({
        name: "test",
        concurrency: 2,
        run: (key) =>
          Effect.map(Effect.fiberId, (id) => {
            runs.push({ key, fiber: FiberId.threadName(id) })
            return Action.awaitChange
          })
      })
      expect(yield* supervisor.fibers).toBe(0)
      for (const key of ["a", "b", "a", "c", "b", "a"]) yield* supervisor.enqueue(key)
      yield* settle
      expect(runs.map((r) => r.key).sort()).toEqual(["a", "b", "c"])
      // Idle after their runs, the fibers stay.
      expect(yield* supervisor.fibers).toBe(3)
      yield* supervisor.enqueue("a")
      yield* supervisor.enqueue("b")
      yield* settle
      const fibersOf = (key: string) => runs.filter((r) => r.key === key).map((r) => r.fiber)
      expect(fibersOf("a")).toHaveLength(2)
      expect(new Set(fibersOf("a")).size).toBe(1)
      expect(new Set(fibersOf("b")).size).toBe(1)
      expect(new Set([fibersOf("a")[0], fibersOf("b")[0], fibersOf("c")[0]]).size).toBe(3)
      expect(yield* supervisor.fibers).toBe(3)
      yield* supervisor.forget("b")
      expect(yield* supervisor.fibers).toBe(2)
      // Enqueued again (re-created): a new fiber.
      yield* supervisor.enqueue("b")
      yield* settle
      expect(yield* supervisor.fibers).toBe(3)
      expect(fibersOf("b")).toHaveLength(3)
      expect(fibersOf("b")[2]).not.toBe(fibersOf("b")[0])
    })
  )

  it.effect("work forked in a key's scope outlives the run and is interrupted by forget or shutdown", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const sagas = new Map<string, number>()
      const interrupted: Array<string> = []
      const supervisor = yield* Supervisor.make({
        name: "test",
        concurrency: 2,
        run: (key, attempt, keyScope) =>
          Effect.gen(function* () {
            if (sagas.has(key)) return Action.awaitChange
            sagas.set(key, attempt)
            yield* Effect.forkIn(
              Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted.push(key)))),
              keyScope
            )
            return Action.awaitChange
          })
      }).pipe(Scope.extend(scope))
      yield* supervisor.enqueue("a")
      yield* supervisor.enqueue("b")
      yield* settle
      expect([...sagas.keys()].sort()).toEqual(["a", "b"])
      expect(yield* supervisor.running).toEqual([])
      // The runs have ended; their sagas have not, and a later run of the key leaves them alone.
      yield* supervisor.enqueue("a")
      yield* TestClock.adjust("1 hour")
      yield* settle
      expect(interrupted).toEqual([])
      yield* supervisor.forget("a")
      expect(interrupted).toEqual(["a"])
      expect(yield* supervisor.fibers).toBe(1)
      yield* Scope.close(scope, Exit.void)
      expect(interrupted).toEqual(["a", "b"])
    })
  )

  it.scoped("idle keys do not run and hold no timer", () =>
    Effect.gen(function* () {
      const runs = yield* Ref.make(0)
      const supervisor = yield* Supervisor.make({
        name: "test",
        concurrency: 4,
        run: (key) =>
          Effect.as(
            Ref.update(runs, (n) => n + 1),
            key === "timed" ? Action.requeueAfter("1 minute") : Action.awaitChange
          )
      })
      for (let i = 0; i < 100; i++) yield* supervisor.enqueue(`k${i}`)
      yield* settle
      expect(yield* Ref.get(runs)).toBe(100)
      expect(yield* supervisor.fibers).toBe(100)
      // Suspended on their wake-up signals: no sleep is pending, so nothing polls.
      expect(Chunk.size(yield* TestClock.sleeps())).toBe(0)
      yield* TestClock.adjust("1 hour")
      yield* settle
      expect(yield* Ref.get(runs)).toBe(100)
      // A key with a due time holds exactly one timer.
      yield* supervisor.enqueue("timed")
      yield* settle
      expect(Chunk.size(yield* TestClock.sleeps())).toBe(1)
      yield* TestClock.adjust("1 minute")
      yield* settle
      expect(yield* Ref.get(runs)).toBe(102)
    })
  )

  it.scoped("1000 keys with concurrency 4 never run more than 4 at a time", () =>
    Effect.gen(function* () {
      let now = 0
      let max = 0
      let done = 0
      const supervisor = yield* Supervisor.make({
        name: "test",
        concurrency: 4,
        run: () =>
          Effect.sync(() => {
            now++
            max = Math.max(max, now)
          }).pipe(
            // Yields, so that runs overlap and the other keys' fibers try for a permit meanwhile.
            Effect.zipRight(Effect.repeatN(Effect.yieldNow(), 3)),
            Effect.ensuring(
              Effect.sync(() => {
                now--
                done++
              })
            ),
            Effect.as(Action.awaitChange)
          )
      })
      for (let i = 0; i < 1000; i++) yield* supervisor.enqueue(`k${i}`)
      yield* Effect.yieldNow()
      expect((yield* supervisor.running).length).toBe(4)
      expect(yield* supervisor.depth).toBe(996)
      for (let i = 0; i < 100_000 && done < 1000; i++) yield* Effect.yieldNow()
      expect(done).toBe(1000)
      expect(max).toBe(4)
      expect(yield* supervisor.depth).toBe(0)
      expect(yield* supervisor.fibers).toBe(1000)
    })
  )
})
