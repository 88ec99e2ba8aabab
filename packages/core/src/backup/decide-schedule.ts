/**
 * `decideSchedule`: what one ConvexScheduledBackup needs now, as a pure function of the schedule, the backups it
 * created (found by label) and the time: at most one new ConvexBackup (the latest due run; never a stampede after
 * downtime), the finished backups retention prunes, the status, and when to look again.
 *
 * @module
 */
import { Duration, Either } from "effect"
import { parseCron } from "../api/cron.js"
import type { ConvexBackupEncoded, ConvexScheduledBackup, ConvexScheduledBackupStatus } from "../api/index.js"
import { apiVersion, backupKind, encodeConvexBackup } from "../api/index.js"
import { pauseAnnotation } from "../api/pause.js"
import { sameJson } from "../internal/diff.js"
import { applyConditions, formatTime } from "../internal/status/conditions.js"
import type { DecidedEvent } from "../internal/status/events.js"
import { backupLabels } from "../render/backup-jobs.js"
import { labelValue, managedBy } from "../render/labels.js"
import { applyRetention, type RetainedBackup } from "./retention.js"
import { scheduleStep } from "./schedule.js"

export interface ScheduleObservation {
  readonly schedule: ConvexScheduledBackup
  /** The backups this schedule created (label `convex.icod.de/scheduled-backup`). */
  readonly backups: ReadonlyArray<RetainedBackup>
  readonly now: Date
  /**
   * Whether the instance carries the pause annotation (`api/pause.ts`): a run due meanwhile is skipped (it counts
   * as run and is not made up later) with an event saying why. Retention still prunes.
   */
  readonly instancePaused?: boolean
}

export interface ScheduleDecision {
  /** A ConvexBackup to create (in manifest form). */
  readonly create: ConvexBackupEncoded | undefined
  /** Backups to delete (retention); their data goes with them (deletionPolicy Delete). */
  readonly prune: ReadonlyArray<string>
  readonly status: ConvexScheduledBackupStatus
  readonly statusChanged: boolean
  readonly events: ReadonlyArray<DecidedEvent>
  /** When to decide again (the next run, or the next retention expiry). */
  readonly requeueAfter: Duration.Duration | undefined
}

/** The name of the backup of scheduled time `at`: `<schedule>-<yyyymmddhhmm>` (the same run never makes two). */
export const scheduledBackupName = (schedule: string, at: Date): string =>
  `${schedule.slice(0, 253 - 13)}-${at.toISOString().slice(0, 16).replace(/[-T:]/g, "")}`

/** Decides one step of `schedule`. */
export const decideSchedule = (observed: ScheduleObservation): ScheduleDecision => {
  const { schedule, now } = observed
  const { spec } = schedule
  const previous = schedule.status ?? {}
  const name = schedule.metadata.name ?? ""
  const namespace = schedule.metadata.namespace ?? "default"
  const generation = schedule.metadata.generation
  const cron = parseCron(spec.schedule)
  const retention = applyRetention(observed.backups, spec.retention, now)
  const condition = (status: "True" | "False", reason: string, message: string) =>
    applyConditions(previous.conditions, [{ type: "Scheduled", status, reason, message }], generation, now)
  const meta = generation !== undefined ? { observedGeneration: generation } : {}

  if (Either.isLeft(cron)) {
    // Admission checks the shape; a field out of range (minute 61) is caught here.
    const message = `spec.schedule ${JSON.stringify(spec.schedule)}: ${cron.left}; fix the cron expression`
    const status: ConvexScheduledBackupStatus = {
      ...previous,
      ...meta,
      conditions: condition("False", "InvalidSchedule", message)
    }
    return {
      create: undefined,
      prune: retention.prune,
      status,
      statusChanged: !sameJson(previous, status),
      events: sameJson(previous.conditions, status.conditions)
        ? []
        : [{ type: "Warning", reason: "InvalidSchedule", action: "Schedule", message }],
      requeueAfter: undefined
    }
  }

  const since = new Date(previous.lastScheduleTime ?? schedule.metadata.creationTimestamp ?? formatTime(now))
  const step = spec.suspend
    ? ({ _tag: "Wait", next: undefined } as const)
    : scheduleStep({ schedule: cron.right, since, now, startingDeadlineSeconds: spec.startingDeadlineSeconds })
  const events: Array<DecidedEvent> = []
  let create: ConvexBackupEncoded | undefined
  let lastBackup = previous.lastBackup
  if (step._tag === "Run" && observed.instancePaused === true) {
    events.push({
      type: "Normal",
      reason: "InstancePaused",
      action: "Schedule",
      message: `the run of ${formatTime(step.at)} is skipped: ConvexInstance ${spec.instanceRef.name} has the annotation ${pauseAnnotation}: "true"`
    })
  } else if (step._tag === "Run") {
    lastBackup = scheduledBackupName(name, step.at)
    create = encodeConvexBackup({
      apiVersion,
      kind: backupKind,
      metadata: {
        name: lastBackup,
        namespace,
        labels: {
          "app.kubernetes.io/managed-by": managedBy,
          [backupLabels.schedule]: labelValue(name),
          [backupLabels.instance]: labelValue(spec.instanceRef.name)
        },
        ...(spec.backupOwnerReference === "self" && schedule.metadata.uid !== undefined
          ? {
              ownerReferences: [
                {
                  apiVersion: schedule.apiVersion,
                  kind: schedule.kind,
                  name,
                  uid: schedule.metadata.uid,
                  controller: true,
                  blockOwnerDeletion: true
                }
              ]
            }
          : {})
      },
      spec: { instanceRef: spec.instanceRef, target: spec.target, deletionPolicy: "Delete" }
    })
    events.push({
      type: "Normal",
      reason: "BackupScheduled",
      action: "Schedule",
      message:
        `created ConvexBackup ${lastBackup} for ${formatTime(step.at)}` +
        (step.missed > 0 ? ` (${step.missed} earlier missed run(s) not made up)` : "")
    })
  } else if (step._tag === "Skip") {
    events.push({
      type: "Warning",
      reason: "MissedSchedule",
      action: "Schedule",
      message: `the run of ${formatTime(step.at)} is past startingDeadlineSeconds (${spec.startingDeadlineSeconds}s): skipped`
    })
  }
  for (const pruned of retention.prune) {
    events.push({ type: "Normal", reason: "BackupPruned", action: "Prune", message: `retention deletes ${pruned}` })
  }
  const next = spec.suspend ? undefined : step.next
  const newest = observed.backups
    .filter((backup) => backup.phase === "Completed")
    .reduce<Date | undefined>(
      (best, backup) => (best === undefined || backup.finishedAt > best ? backup.finishedAt : best),
      undefined
    )
  const status: ConvexScheduledBackupStatus = {
    ...(step._tag === "Wait"
      ? previous.lastScheduleTime !== undefined
        ? { lastScheduleTime: previous.lastScheduleTime }
        : {}
      : { lastScheduleTime: formatTime(step.at) }),
    ...(lastBackup !== undefined ? { lastBackup } : {}),
    ...(newest !== undefined ? { lastSuccessfulTime: formatTime(newest) } : {}),
    ...(next !== undefined ? { nextScheduleTime: formatTime(next) } : {}),
    ...meta,
    conditions: spec.suspend
      ? condition("False", "Suspended", "spec.suspend is true: no backups are created")
      : condition("True", "Scheduled", `next run ${next === undefined ? "never" : formatTime(next)} (UTC)`)
  }
  const wakeups = [next, retention.nextExpiry].filter((time): time is Date => time !== undefined)
  const soonest = wakeups.length === 0 ? undefined : Math.min(...wakeups.map((time) => time.getTime()))
  return {
    create,
    prune: retention.prune,
    status,
    statusChanged: !sameJson(previous, status),
    events,
    requeueAfter: soonest === undefined ? undefined : Duration.millis(Math.max(1000, soonest - now.getTime()))
  }
}
