/** A scheduled backup of a paused instance: the due run is skipped with an event, counted as run, not made up. */
import { type ConvexScheduledBackup, decideSchedule, decodeConvexScheduledBackup } from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"

const scheduleOf = (status?: Record<string, unknown>): ConvexScheduledBackup =>
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
      spec: { instanceRef: { name: "app" }, schedule: "* * * * *", target: { pvc: {} } },
      ...(status === undefined ? {} : { status })
    })
  )

describe("a scheduled backup of a paused instance", () => {
  it("skips the due run with one Normal event, records it as run, and runs the next one once resumed", () => {
    const now = new Date("2026-01-01T00:01:10Z")
    const running = decideSchedule({ schedule: scheduleOf(), backups: [], now })
    expect(running.create?.metadata.name).toBe("nightly-202601010001")

    const skipped = decideSchedule({ schedule: scheduleOf(), backups: [], now, instancePaused: true })
    expect(skipped.create).toBeUndefined()
    expect(skipped.events).toEqual([
      expect.objectContaining({ type: "Normal", reason: "InstancePaused", action: "Schedule" })
    ])
    expect(skipped.events[0]?.message).toContain("2026-01-01T00:01:00Z")
    expect(skipped.events[0]?.message).toContain("convex.icod.de/pause-reconciliation")
    expect(skipped.status.lastScheduleTime).toBe("2026-01-01T00:01:00Z")
    expect(skipped.status.lastBackup).toBeUndefined()

    // Resumed within the same minute: the skipped run is not made up; the next minute's run is made.
    const stored = scheduleOf(skipped.status as Record<string, unknown>)
    expect(decideSchedule({ schedule: stored, backups: [], now: new Date("2026-01-01T00:01:40Z") }).create).toBe(
      undefined
    )
    const next = decideSchedule({ schedule: stored, backups: [], now: new Date("2026-01-01T00:02:05Z") })
    expect(next.create?.metadata.name).toBe("nightly-202601010002")
  })
})
