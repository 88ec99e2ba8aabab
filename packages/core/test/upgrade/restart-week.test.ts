/**
 * `maintenance.restartInterval` across a simulated week, under the TestClock: the operator wakes up when a restart
 * is due (and only then), restarts once per interval, never while an upgrade runs, and schedules from
 * `status.lastRestartTime`, so an operator restarted in between keeps the same schedule.
 */
import { restartedAtAnnotation } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Option, TestClock } from "effect"
import { find } from "../decide/support.js"
import { names, readyOnV1, retarget, tick, v2, type World } from "./saga.js"

const hours = (n: number) => n * 3_600_000
const daily = { maintenance: { upgradeStrategy: "inPlace", restartInterval: "24h" } }
const week = hours(24 * 7)

const restartedAt = (world: World) =>
  find(world.decision, "StatefulSet", names.backend).spec.template.metadata.annotations?.[restartedAtAnnotation]

/** Sleeps as the operator would: until the decision's wake-up, or `idle` when it asks for none. */
const sleep = (world: World, idle: Duration.Duration) =>
  TestClock.adjust(Option.getOrElse(world.decision.requeueAfter, () => idle))

describe("periodic restarts across a simulated week", () => {
  it.effect("24h: seven restarts, each a full interval after the previous, waking only when due", () =>
    Effect.gen(function* () {
      let world = yield* readyOnV1("inPlace", daily)
      const start = yield* Clock.currentTimeMillis
      const restarts: Array<string> = []
      let wakeUps = 0
      while ((yield* Clock.currentTimeMillis) < start + week) {
        yield* sleep(world, Duration.hours(24))
        wakeUps++
        world = yield* tick(world)
        if (world.decision.events.some((event) => event.reason === "RestartTriggered")) {
          restarts.push(world.decision.status.lastRestartTime ?? "")
          expect(restartedAt(world)).toBe(world.decision.status.lastRestartTime)
          // The pod rolls and is ready again in the next decision.
          world = yield* tick(world)
        }
      }
      expect(restarts).toEqual([
        "2025-06-02T12:00:00Z",
        "2025-06-03T12:00:00Z",
        "2025-06-04T12:00:00Z",
        "2025-06-05T12:00:00Z",
        "2025-06-06T12:00:00Z",
        "2025-06-07T12:00:00Z",
        "2025-06-08T12:00:00Z"
      ])
      expect(wakeUps).toBe(7)
    })
  )

  it.effect("a restart due during an upgrade waits for it; the schedule then continues from the restart", () =>
    Effect.gen(function* () {
      let world = yield* readyOnV1("inPlace", daily)
      yield* TestClock.adjust(Duration.hours(23))
      // An upgrade starts an hour before the restart is due; its export runs for two hours.
      world = yield* tick(retarget(world, v2, "inPlace", daily), { job: () => "Running" })
      expect(world.decision.status.upgrade?.phase).toBe("Exporting")
      yield* TestClock.adjust(Duration.hours(2))
      const during = yield* tick(world, { job: () => "Running" })
      expect(during.decision.events.map((event) => event.reason)).not.toContain("RestartTriggered")
      expect(during.decision.status.lastRestartTime).toBeUndefined()
      // The upgrade completes: the new pod has just started, so no restart is due until 24h after it.
      let done = during
      for (let i = 0; i < 4; i++) done = yield* tick(done)
      expect(done.decision.status.upgrade).toBeUndefined()
      expect(done.decision.status.lastRestartTime).toBeUndefined()
      expect(Option.map(done.decision.requeueAfter, Duration.toHours)).toEqual(Option.some(24))
    })
  )

  it.effect("an operator restarted between restarts keeps the schedule (it is read from the status)", () =>
    Effect.gen(function* () {
      let world = yield* readyOnV1("inPlace", daily)
      yield* sleep(world, Duration.hours(24))
      world = yield* tick(world)
      world = yield* tick(world)
      expect(world.decision.status.lastRestartTime).toBe("2025-06-02T12:00:00Z")
      // Ten hours later a new operator starts with nothing but the stored status and the cluster.
      yield* TestClock.adjust(Duration.hours(10))
      const fresh = yield* tick(world)
      expect(fresh.decision.apply).toEqual([])
      expect(Option.map(fresh.decision.requeueAfter, Duration.toHours)).toEqual(Option.some(14))
      yield* sleep(fresh, Duration.hours(24))
      const due = yield* tick(fresh)
      expect(due.decision.status.lastRestartTime).toBe("2025-06-03T12:00:00Z")
    })
  )
})
