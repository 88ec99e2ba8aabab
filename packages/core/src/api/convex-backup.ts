/**
 * `ConvexBackup` (`convex.icod.de/v1alpha1`): one backup of one ConvexInstance, a snapshot ZIP with file storage
 * kept on a claim or in a bucket. Its spec is immutable; its status is final once Completed or Failed.
 *
 * @module
 */
import { Schema } from "effect"
import { crdExtra, doc, optional, withDefault } from "./annotations.js"
import { BackupTarget, InstanceRef } from "./backup-target.js"
import { apiVersion, decoderOf } from "./convex-instance.js"
import { customResourceDefinition, type PrinterColumn } from "./crd.js"
import { conditionList } from "./kube.js"
import { ObjectMeta } from "./meta.js"
import { Int64 } from "./primitives.js"

export const backupKind = "ConvexBackup"
export const backupPlural = "convexbackups"

/** What happens to the ZIP when the ConvexBackup is deleted. */
export const BackupDeletionPolicy = Schema.Literal("Retain", "Delete")
export type BackupDeletionPolicy = typeof BackupDeletionPolicy.Type

export const ConvexBackupSpec = Schema.Struct({
  instanceRef: InstanceRef,
  target: BackupTarget,
  deletionPolicy: withDefault(
    BackupDeletionPolicy.pipe(
      doc(
        "Retain (default) keeps the ZIP when this object is deleted; Delete removes it too, through a Job, before " +
          "the object goes (scheduled backups are created with Delete, so retention prunes their data)."
      )
    ),
    "Retain"
  )
}).pipe(
  crdExtra({
    "x-kubernetes-validations": [
      { rule: "self == oldSelf", message: "spec is immutable: create a new ConvexBackup instead" }
    ]
  }),
  doc("Which instance to back up and where to keep the ZIP. Immutable.")
)
export type ConvexBackupSpec = typeof ConvexBackupSpec.Type
export type ConvexBackupSpecEncoded = typeof ConvexBackupSpec.Encoded

export const BackupPhase = Schema.Literal("Pending", "Running", "Completed", "Failed")
export type BackupPhase = typeof BackupPhase.Type

const DateTime = Schema.String.pipe(crdExtra({ format: "date-time" }))

export const ConvexBackupStatus = Schema.Struct({
  phase: optional(
    BackupPhase.pipe(doc("Pending (waiting its turn), Running (the Job runs), Completed or Failed (final)."))
  ),
  startedAt: optional(DateTime.pipe(doc("When the backup Job was created."))),
  finishedAt: optional(DateTime.pipe(doc("When the backup Job completed or failed."))),
  size: optional(Schema.String.pipe(doc("Size of the ZIP, e.g. 12.4Mi (when the Job reported it)."))),
  sizeBytes: optional(Int64.pipe(doc("Size of the ZIP in bytes (when the Job reported it)."))),
  location: optional(Schema.String.pipe(doc("Where the ZIP is: pvc://<claim>/<file>.zip or s3://<bucket>/<key>.zip."))),
  job: optional(Schema.String.pipe(doc("The backup Job."))),
  message: optional(
    Schema.String.pipe(
      doc(
        "What the backup waits for, why it failed, or what a completed backup could not do (expire the backend's own copy of its export)."
      )
    )
  ),
  observedGeneration: optional(Int64.pipe(doc("The .metadata.generation this status describes."))),
  conditions: optional(
    conditionList("Completed: True once the ZIP is written, False with the reason while waiting or after a failure.")
  )
}).pipe(
  crdExtra({
    "x-kubernetes-validations": [
      {
        rule: "!has(oldSelf.phase) || (oldSelf.phase != 'Completed' && oldSelf.phase != 'Failed') || self == oldSelf",
        message: "the status of a finished backup is final"
      }
    ]
  }),
  doc("Observed state of the ConvexBackup.")
)
export type ConvexBackupStatus = typeof ConvexBackupStatus.Type

export const ConvexBackup = Schema.Struct({
  apiVersion: Schema.Literal(apiVersion),
  kind: Schema.Literal(backupKind),
  metadata: ObjectMeta,
  spec: ConvexBackupSpec,
  status: optional(ConvexBackupStatus)
}).annotations({ identifier: "ConvexBackup" })
export type ConvexBackup = typeof ConvexBackup.Type
export type ConvexBackupEncoded = typeof ConvexBackup.Encoded

export const decodeConvexBackup = decoderOf(ConvexBackup)
export const encodeConvexBackup = Schema.encodeSync(ConvexBackup)

export const backupPrinterColumns: ReadonlyArray<PrinterColumn> = [
  { name: "Instance", type: "string", jsonPath: ".spec.instanceRef.name", description: "The ConvexInstance" },
  { name: "Phase", type: "string", jsonPath: ".status.phase", description: "Pending, Running, Completed or Failed" },
  { name: "Size", type: "string", jsonPath: ".status.size", description: "Size of the ZIP" },
  { name: "Location", type: "string", jsonPath: ".status.location", priority: 1 },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
]

export const convexBackupCrd = customResourceDefinition({
  kind: backupKind,
  plural: backupPlural,
  singular: "convexbackup",
  shortNames: ["cvxbackup"],
  description: "One backup of a ConvexInstance: a snapshot ZIP with file storage, on a claim or in a bucket.",
  spec: ConvexBackupSpec,
  status: ConvexBackupStatus,
  printerColumns: backupPrinterColumns
})
