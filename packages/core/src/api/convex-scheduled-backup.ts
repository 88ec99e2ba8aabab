/**
 * `ConvexScheduledBackup` (`convex.icod.de/v1alpha1`): a cron schedule (UTC) that creates ConvexBackups of one
 * instance, and prunes the finished ones that fall out of its retention together with their data.
 *
 * @module
 */
import { Either, Schema } from "effect"
import { crdExtra, crossField, doc, optional, withDefault } from "./annotations.js"
import { BackupTarget, InstanceRef } from "./backup-target.js"
import { apiVersion, decoderOf } from "./convex-instance.js"
import { customResourceDefinition, type PrinterColumn } from "./crd.js"
import { cronPattern, parseCron } from "./cron.js"
import { conditionList } from "./kube.js"
import { ObjectMeta } from "./meta.js"
import { GoDuration, Int32, Int64 } from "./primitives.js"

export const scheduledBackupKind = "ConvexScheduledBackup"
export const scheduledBackupPlural = "convexscheduledbackups"

/** A cron expression: a pattern at admission, parsed with the cron library when decoding. */
export const CronExpression = Schema.String.pipe(
  Schema.maxLength(128),
  Schema.pattern(cronPattern, {
    description: "a cron expression of five fields (minute hour day-of-month month day-of-week) or @daily/@hourly/…"
  }),
  Schema.filter((expression) => Either.match(parseCron(expression), { onLeft: (m) => m, onRight: () => true }))
).annotations({ identifier: "CronExpression" })

export const BackupRetention = crossField(
  Schema.Struct({
    keepLast: optional(
      Int32.pipe(Schema.greaterThanOrEqualTo(1), doc("Keep the newest N completed backups (and N failed ones)."))
    ),
    maxAge: optional(GoDuration.pipe(doc("Prune finished backups older than this, e.g. 720h.")))
  }).pipe(doc("Which finished backups of this schedule to keep; the rest are deleted with their data.")),
  {
    check: (retention) => retention.keepLast !== undefined || retention.maxAge !== undefined,
    rule: "has(self.keepLast) || has(self.maxAge)",
    message: "set keepLast, maxAge or both (leave retention out to keep every backup)",
    reason: "FieldValueRequired"
  }
)
export type BackupRetention = typeof BackupRetention.Type

export const ConvexScheduledBackupSpec = Schema.Struct({
  instanceRef: InstanceRef,
  schedule: CronExpression.pipe(doc("When to back up, as cron in UTC, e.g. '0 3 * * *' (03:00 every day).")),
  target: BackupTarget,
  retention: optional(BackupRetention),
  suspend: withDefault(Schema.Boolean.pipe(doc("Create no backups while true (retention still prunes).")), false),
  startingDeadlineSeconds: optional(
    Int64.pipe(
      Schema.greaterThanOrEqualTo(0),
      doc(
        "A run missed by more than this (the operator was down) is skipped. Without it the latest missed run " +
          "happens once when the operator is back; earlier missed runs are never made up."
      )
    )
  ),
  backupOwnerReference: withDefault(
    Schema.Literal("none", "self").pipe(
      doc("none (default): backups outlive this schedule; self: deleting the schedule deletes its backups.")
    ),
    "none"
  )
}).pipe(doc("The schedule, the target and the retention of backups of one instance."))
export type ConvexScheduledBackupSpec = typeof ConvexScheduledBackupSpec.Type

const DateTime = Schema.String.pipe(crdExtra({ format: "date-time" }))

export const ConvexScheduledBackupStatus = Schema.Struct({
  lastScheduleTime: optional(
    DateTime.pipe(doc("The latest scheduled time handled (run, or skipped past its deadline)."))
  ),
  lastBackup: optional(Schema.String.pipe(doc("The ConvexBackup created last."))),
  lastSuccessfulTime: optional(DateTime.pipe(doc("When the newest completed backup of this schedule finished."))),
  nextScheduleTime: optional(DateTime.pipe(doc("The next scheduled time."))),
  observedGeneration: optional(Int64.pipe(doc("The .metadata.generation this status describes."))),
  conditions: optional(conditionList("Scheduled: whether the schedule runs (False when suspended or invalid)."))
}).pipe(doc("Observed state of the ConvexScheduledBackup."))
export type ConvexScheduledBackupStatus = typeof ConvexScheduledBackupStatus.Type

export const ConvexScheduledBackup = Schema.Struct({
  apiVersion: Schema.Literal(apiVersion),
  kind: Schema.Literal(scheduledBackupKind),
  metadata: ObjectMeta,
  spec: ConvexScheduledBackupSpec,
  status: optional(ConvexScheduledBackupStatus)
}).annotations({ identifier: "ConvexScheduledBackup" })
export type ConvexScheduledBackup = typeof ConvexScheduledBackup.Type

export const decodeConvexScheduledBackup = decoderOf(ConvexScheduledBackup)

export const scheduledBackupPrinterColumns: ReadonlyArray<PrinterColumn> = [
  { name: "Instance", type: "string", jsonPath: ".spec.instanceRef.name", description: "The ConvexInstance" },
  { name: "Schedule", type: "string", jsonPath: ".spec.schedule", description: "Cron schedule (UTC)" },
  { name: "Suspend", type: "boolean", jsonPath: ".spec.suspend" },
  { name: "Last Backup", type: "string", jsonPath: ".status.lastBackup" },
  { name: "Next", type: "date", jsonPath: ".status.nextScheduleTime", priority: 1 },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
]

export const convexScheduledBackupCrd = customResourceDefinition({
  kind: scheduledBackupKind,
  plural: scheduledBackupPlural,
  singular: "convexscheduledbackup",
  shortNames: ["cvxschedule"],
  description: "Backups of a ConvexInstance on a cron schedule (UTC), with retention.",
  spec: ConvexScheduledBackupSpec,
  status: ConvexScheduledBackupStatus,
  printerColumns: scheduledBackupPrinterColumns
})
