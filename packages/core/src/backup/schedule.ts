/**
 * When a ConvexScheduledBackup runs, as a CronJob's controller decides it: the latest scheduled time that has
 * passed since the last one handled runs once, however many were missed while the operator was down (no
 * stampede); with `startingDeadlineSeconds`, a run missed by more than that is skipped instead.
 *
 * @module
 */
import type { CronSchedule } from "../api/cron.js"

/** What to do now. */
export type ScheduleStep =
  /** Nothing is due; wake up at `next`. */
  | { readonly _tag: "Wait"; readonly next: Date | undefined }
  /** Create the backup of scheduled time `at` (`missed` earlier times are dropped); then wait for `next`. */
  | { readonly _tag: "Run"; readonly at: Date; readonly missed: number; readonly next: Date | undefined }
  /** The latest due time `at` is past its starting deadline: record it as handled without a backup. */
  | { readonly _tag: "Skip"; readonly at: Date; readonly missed: number; readonly next: Date | undefined }

export interface ScheduleInput {
  readonly schedule: CronSchedule
  /** The latest scheduled time already handled (status.lastScheduleTime), else when the schedule was created. */
  readonly since: Date
  readonly now: Date
  readonly startingDeadlineSeconds?: number | undefined
}

/** Bounds the walk over missed times (a minutely schedule after a year of downtime is ~525 600 of them). */
const maxWalk = 1_000_000

/** The step of a schedule at `now`. */
export const scheduleStep = (input: ScheduleInput): ScheduleStep => {
  let latest: Date | undefined
  let count = 0
  let cursor = input.schedule.next(input.since)
  while (cursor !== undefined && cursor.getTime() <= input.now.getTime() && count < maxWalk) {
    latest = cursor
    count++
    cursor = input.schedule.next(cursor)
  }
  const next = latest === undefined ? cursor : input.schedule.next(input.now)
  if (latest === undefined) return { _tag: "Wait", next }
  const late = (input.now.getTime() - latest.getTime()) / 1000
  const missed = count - 1
  if (input.startingDeadlineSeconds !== undefined && late > input.startingDeadlineSeconds) {
    return { _tag: "Skip", at: latest, missed, next }
  }
  return { _tag: "Run", at: latest, missed, next }
}
