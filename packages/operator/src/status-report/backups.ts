/**
 * The backups part of the report: the newest Completed ConvexBackup of the instance, the newest one when it is not
 * (yet) Completed, and the next run of the ConvexScheduledBackups naming the instance, by their cron (core
 * `api/cron.ts`, UTC).
 *
 * @module
 */
import { parseCron } from "@convex-operator/core"
import { formatTime } from "@convex-operator/core/internal"
import type { KubeObject } from "@convex-operator/k8s"
import { Either } from "effect"
import type { BackupLine, BackupsReport, ScheduleLine } from "./model.js"

interface RawBackup {
  readonly metadata: { readonly name?: string; readonly creationTimestamp?: string }
  readonly spec?: { readonly instanceRef?: { readonly name?: string } }
  readonly status?: {
    readonly phase?: string
    readonly finishedAt?: string
    readonly size?: string
    readonly location?: string
    readonly message?: string
  }
}

interface RawSchedule {
  readonly metadata: { readonly name?: string }
  readonly spec?: { readonly instanceRef?: { readonly name?: string }; readonly schedule?: string; suspend?: boolean }
}

const forInstance = (object: KubeObject, instance: string): boolean =>
  (object as RawBackup).spec?.instanceRef?.name === instance

const backupLine = (object: KubeObject): BackupLine => {
  const { metadata, status } = object as RawBackup
  return {
    name: metadata.name ?? "",
    phase: status?.phase ?? "Pending",
    at: status?.finishedAt ?? metadata.creationTimestamp,
    ...(status?.size !== undefined ? { size: status.size } : {}),
    ...(status?.location !== undefined ? { location: status.location } : {}),
    ...(status?.message !== undefined ? { message: status.message } : {})
  }
}

const newestFirst = (a: BackupLine, b: BackupLine): number =>
  (b.at ?? "").localeCompare(a.at ?? "") || b.name.localeCompare(a.name)

/** The newest Completed backup of `instance` among `backups` (its finish time), if any. */
export const lastSuccessfulBackup = (backups: ReadonlyArray<KubeObject>, instance: string): BackupLine | undefined =>
  backups
    .filter((backup) => forInstance(backup, instance))
    .map(backupLine)
    .filter((line) => line.phase === "Completed")
    .sort(newestFirst)[0]

const scheduleLine = (object: KubeObject, now: Date): ScheduleLine => {
  const { metadata, spec } = object as RawSchedule
  const schedule = spec?.schedule ?? ""
  const suspended = spec?.suspend === true
  const next = suspended
    ? undefined
    : Either.match(parseCron(schedule), { onLeft: () => undefined, onRight: (cron) => cron.next(now) })
  return {
    name: metadata.name ?? "",
    schedule,
    suspended,
    ...(next !== undefined ? { next: formatTime(next) } : {})
  }
}

/** The backups part of the report of `instance`. */
export const backupsReport = (
  instance: string,
  backups: ReadonlyArray<KubeObject>,
  schedules: ReadonlyArray<KubeObject>,
  now: Date
): BackupsReport => {
  const lines = backups
    .filter((backup) => forInstance(backup, instance))
    .map((backup) => ({ line: backupLine(backup), created: backup.metadata.creationTimestamp ?? "" }))
  const lastSuccessful = lastSuccessfulBackup(backups, instance)
  // The newest by creation: a backup created after the last successful one finished is news (running or failed).
  const newest = [...lines].sort(
    (a, b) => b.created.localeCompare(a.created) || b.line.name.localeCompare(a.line.name)
  )[0]?.line
  const latest =
    newest !== undefined && newest.phase !== "Completed" && newest.name !== lastSuccessful?.name ? newest : undefined
  const scheduleLines = schedules
    .filter((schedule) => forInstance(schedule, instance))
    .map((schedule) => scheduleLine(schedule, now))
    .sort((a, b) => a.name.localeCompare(b.name))
  const next = scheduleLines
    .filter((line): line is ScheduleLine & { next: string } => line.next !== undefined)
    .sort((a, b) => a.next.localeCompare(b.next) || a.name.localeCompare(b.name))[0]
  return {
    ...(lastSuccessful !== undefined ? { lastSuccessful } : {}),
    ...(latest !== undefined ? { latest } : {}),
    ...(next !== undefined ? { next: { schedule: next.name, at: next.next } } : {}),
    schedules: scheduleLines
  }
}
