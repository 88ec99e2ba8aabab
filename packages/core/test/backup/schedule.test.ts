/**
 * Schedules in UTC, missed runs after downtime (run once, never stampede; a starting deadline skips), and the
 * schedule controller's decisions driven by Effect's TestClock as the operator would be: wake up when asked.
 */
import {
  type ConvexScheduledBackup,
  decideSchedule,
  decodeConvexScheduledBackup,
  parseCron,
  type RetainedBackup,
  scheduleStep
} from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Either, TestClock } from "effect"

const cron = (expression: string) => Either.getOrThrow(parseCron(expression))
const at = (iso: string) => new Date(iso)
const runs = (expression: string, from: string, count: number) => {
  const schedule = cron(expression)
  const out: Array<string> = []
  let cursor: Date | undefined = at(from)
  for (let i = 0; i < count && cursor !== undefined; i++) {
    cursor = schedule.next(cursor)
    if (cursor !== undefined) out.push(cursor.toISOString())
  }
  return out
}

describe("cron schedules (UTC)", () => {
  it("computes the next runs across hour, day, month and year ends", () => {
    expect(runs("*/20 * * * *", "2026-12-31T23:30:00Z", 3)).toEqual([
      "2026-12-31T23:40:00.000Z",
      "2027-01-01T00:00:00.000Z",
      "2027-01-01T00:20:00.000Z"
    ])
    expect(runs("0 3 * * *", "2026-03-29T00:00:00Z", 2)).toEqual([
      // 29 March is a DST switch in Europe: irrelevant in UTC, every day has its 03:00.
      "2026-03-29T03:00:00.000Z",
      "2026-03-30T03:00:00.000Z"
    ])
    expect(runs("0 0 29 2 *", "2026-01-01T00:00:00Z", 1)).toEqual(["2028-02-29T00:00:00.000Z"])
    expect(runs("@hourly", "2026-01-01T10:59:59Z", 1)).toEqual(["2026-01-01T11:00:00.000Z"])
    expect(runs("30 2 1 * 1", "2026-06-01T03:00:00Z", 2)).toEqual([
      // day-of-month OR day-of-week, as in cron and CronJobs: 1 June was a Monday; next Monday 8 June.
      "2026-06-08T02:30:00.000Z",
      "2026-06-15T02:30:00.000Z"
    ])
    expect(runs("0 0 * * 7", "2026-01-01T00:00:00Z", 1)).toEqual(["2026-01-04T00:00:00.000Z"])
  })

  it("refuses what is not five fields or out of range, saying why", () => {
    expect(Either.isLeft(parseCron("* * * *"))).toBe(true)
    expect(Either.isLeft(parseCron("0 0 3 * * *"))).toBe(true)
    expect(Either.getLeft(parseCron("61 * * * *"))._tag === "Some").toBe(true)
    expect(Either.match(parseCron("61 * * * *"), { onLeft: (m) => m, onRight: () => "" })).toContain("minute")
    expect(Either.isLeft(parseCron("0 0 31 2 *"))).toBe(true)
  })
})

describe("missed runs", () => {
  const hourly = cron("0 * * * *")
  it("runs nothing before the first scheduled time, and says when that is", () => {
    const step = scheduleStep({ schedule: hourly, since: at("2026-01-01T10:00:00Z"), now: at("2026-01-01T10:59:59Z") })
    expect(step).toEqual({ _tag: "Wait", next: at("2026-01-01T11:00:00Z") })
  })

  it("after three days of downtime runs once, for the latest missed time, not 72 times", () => {
    const step = scheduleStep({ schedule: hourly, since: at("2026-01-01T10:00:00Z"), now: at("2026-01-04T10:30:00Z") })
    expect(step).toEqual({ _tag: "Run", at: at("2026-01-04T10:00:00Z"), missed: 71, next: at("2026-01-04T11:00:00Z") })
  })

  it("with startingDeadlineSeconds skips a run missed by more than that, and runs one within it", () => {
    const since = at("2026-01-01T10:00:00Z")
    const late = scheduleStep({
      schedule: hourly,
      since,
      now: at("2026-01-01T11:05:00Z"),
      startingDeadlineSeconds: 120
    })
    expect(late._tag).toBe("Skip")
    const inTime = scheduleStep({
      schedule: hourly,
      since,
      now: at("2026-01-01T11:01:00Z"),
      startingDeadlineSeconds: 120
    })
    expect(inTime._tag).toBe("Run")
  })
})

const scheduleOf = (spec: Record<string, unknown>, status?: Record<string, unknown>): ConvexScheduledBackup =>
  Either.getOrThrow(
    decodeConvexScheduledBackup({
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexScheduledBackup",
      metadata: {
        name: "nightly",
        namespace: "prod",
        uid: "u-1",
        generation: 1,
        creationTimestamp: "2026-01-01T00:00:30Z"
      },
      spec: { instanceRef: { name: "app" }, schedule: "* * * * *", target: { pvc: {} }, ...spec },
      ...(status === undefined ? {} : { status })
    })
  )

/**
 * The operator's loop for one schedule under the TestClock: decide, create what it says, mark created backups
 * Completed at once (finishedAt a few seconds on), prune, write the status, sleep until it asks to be woken.
 */
const simulate = (
  spec: Record<string, unknown>,
  horizon: Duration.DurationInput,
  downtime?: { from: number; to: number }
) =>
  Effect.gen(function* () {
    let schedule = scheduleOf(spec)
    const backups = new Map<string, RetainedBackup>()
    const created: Array<string> = []
    const pruned: Array<string> = []
    const end = (yield* Clock.currentTimeMillis) + Duration.toMillis(Duration.decode(horizon))
    for (;;) {
      const nowMillis = yield* Clock.currentTimeMillis
      if (nowMillis > end) break
      const down = downtime !== undefined && nowMillis >= downtime.from && nowMillis < downtime.to
      if (down) {
        yield* TestClock.adjust(Duration.millis(downtime.to - nowMillis))
        continue
      }
      const now = new Date(nowMillis)
      const decision = decideSchedule({ schedule, backups: [...backups.values()], now })
      if (decision.create !== undefined) {
        const name = decision.create.metadata.name ?? ""
        if (!backups.has(name)) created.push(name)
        backups.set(name, { name, phase: "Completed", finishedAt: new Date(nowMillis + 5000) })
      }
      for (const name of decision.prune) {
        backups.delete(name)
        pruned.push(name)
      }
      schedule = { ...schedule, status: decision.status }
      // A created backup's watch event (it completes in the simulation) wakes the schedule at once.
      if (decision.create !== undefined) continue
      yield* TestClock.adjust(decision.requeueAfter ?? Duration.minutes(1))
    }
    return { created, pruned, kept: [...backups.keys()].sort(), schedule }
  })

describe("decideSchedule under the TestClock", () => {
  it.effect("a schedule every minute creates one backup per minute, named by its time", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(new Date("2026-01-01T00:00:30Z").getTime())
      const { created } = yield* simulate({}, "5 minutes")
      expect(created).toEqual([
        "nightly-202601010001",
        "nightly-202601010002",
        "nightly-202601010003",
        "nightly-202601010004",
        "nightly-202601010005"
      ])
    })
  )

  it.effect("after an hour of operator downtime it creates one backup, not sixty", () =>
    Effect.gen(function* () {
      const start = new Date("2026-01-01T00:00:30Z").getTime()
      yield* TestClock.setTime(start)
      const { created } = yield* simulate({}, "75 minutes", { from: start + 3 * 60_000, to: start + 63 * 60_000 })
      expect(created.slice(0, 3)).toEqual(["nightly-202601010001", "nightly-202601010002", "nightly-202601010003"])
      // back at 01:03:30: the run of 01:03 once, then every minute again.
      expect(created[3]).toBe("nightly-202601010103")
      expect(created).toHaveLength(3 + 13)
    })
  )

  it.effect("keepLast 3 keeps the newest three and prunes the rest as they age out", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(new Date("2026-01-01T00:00:30Z").getTime())
      const { created, pruned, kept } = yield* simulate({ retention: { keepLast: 3 } }, "10 minutes")
      expect(created).toHaveLength(10)
      expect(kept).toEqual(created.slice(-3).sort())
      expect(pruned).toEqual(created.slice(0, 7))
    })
  )

  it.effect("maxAge 3m prunes each backup once it is older than three minutes, waking up for it", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(new Date("2026-01-01T00:00:30Z").getTime())
      const { kept, pruned } = yield* simulate({ schedule: "*/5 * * * *", retention: { maxAge: "3m" } }, "14 minutes")
      // Runs at 00:05 and 00:10 (finished 5 s later); at 00:14:30 the first is pruned, the second is 4m25s old too.
      expect(pruned).toEqual(["nightly-202601010005", "nightly-202601010010"])
      expect(kept).toEqual([])
    })
  )

  it.effect("suspend creates nothing and says so; the status keeps no next run", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(new Date("2026-01-01T00:00:30Z").getTime())
      const { created, schedule } = yield* simulate({ suspend: true }, "5 minutes")
      expect(created).toEqual([])
      expect(schedule.status?.nextScheduleTime).toBeUndefined()
      expect(schedule.status?.conditions?.[0]).toMatchObject({
        type: "Scheduled",
        status: "False",
        reason: "Suspended"
      })
    })
  )

  it("backups it creates are labelled, deleted with their data on pruning, and owned only with backupOwnerReference self", () => {
    const now = new Date("2026-01-01T00:01:10Z")
    const plain = decideSchedule({ schedule: scheduleOf({}), backups: [], now }).create
    expect(plain?.metadata.labels).toMatchObject({
      "convex.icod.de/scheduled-backup": "nightly",
      "convex.icod.de/instance": "app"
    })
    expect(plain?.spec.deletionPolicy).toBe("Delete")
    expect(plain?.metadata.ownerReferences).toBeUndefined()
    const owned = decideSchedule({ schedule: scheduleOf({ backupOwnerReference: "self" }), backups: [], now }).create
    expect(owned?.metadata.ownerReferences?.[0]).toMatchObject({
      kind: "ConvexScheduledBackup",
      name: "nightly",
      uid: "u-1"
    })
  })

  it("a steady schedule between runs changes no status", () => {
    const now = new Date("2026-01-01T00:01:10Z")
    const first = decideSchedule({ schedule: scheduleOf({}), backups: [], now })
    const again = decideSchedule({
      schedule: scheduleOf({}, first.status as Record<string, unknown>),
      backups: [],
      now: new Date("2026-01-01T00:01:40Z")
    })
    expect(again.create).toBeUndefined()
    expect(again.statusChanged).toBe(false)
    expect(Duration.toSeconds(again.requeueAfter ?? Duration.zero)).toBe(20)
  })
})
