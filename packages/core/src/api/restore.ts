/**
 * `ConvexInstance.spec.restore` and `status.restore`: a new instance that starts from a backup, or from a live
 * deployment that is moved in (exported by the restore Job first). The snapshot is imported with `--replace-all`
 * once, after the new backend is ready and before the instance reports Ready. A failed import is retried once for
 * each new value of the `convex.icod.de/retry-restore` annotation.
 *
 * @module
 */
import { Schema } from "effect"
import { crdExtra, crossField, doc, optional, withDefault } from "./annotations.js"
import { S3Location } from "./backup-target.js"
import { DataKey, HttpUrl, Int32, ObjectName } from "./primitives.js"

/** A live Convex deployment to export from (a deployment moved in): its URL and a Secret with its admin key. */
export const DeploymentSource = Schema.Struct({
  url: HttpUrl.pipe(
    doc(
      "The deployment's API URL as the restore Job reaches it (for example https://convex.example.com or " +
        "http://convex-backend.old.svc:3210)."
    )
  ),
  adminKeySecretRef: Schema.Struct({
    name: ObjectName.pipe(
      doc("Secret in this namespace holding the deployment's admin key. The operator only reads it.")
    ),
    key: withDefault(DataKey.pipe(doc("Key of the admin key. Defaults to ADMIN_KEY.")), "ADMIN_KEY")
  }).pipe(doc("The admin key of the deployment, passed to the Job from this Secret only (never on a command line)."))
}).pipe(
  doc(
    "Export a live deployment (with file storage) and import it here: the restore Job runs convex export against " +
      "url, then convex import --replace-all into this instance."
  )
)
export type DeploymentSource = typeof DeploymentSource.Type

const sourceCount = (from: { readonly backup?: unknown; readonly s3?: unknown; readonly deployment?: unknown }) =>
  [from.backup, from.s3, from.deployment].filter((source) => source !== undefined).length

export const RestoreSource = crossField(
  Schema.Struct({
    backup: optional(ObjectName.pipe(doc("A Completed ConvexBackup in this namespace."))),
    s3: optional(S3Location),
    deployment: optional(DeploymentSource)
  }).pipe(doc("The snapshot to start from: a ConvexBackup, a ZIP in a bucket, or a live deployment (exactly one).")),
  {
    check: (from) => sourceCount(from) === 1,
    rule: "(has(self.backup) ? 1 : 0) + (has(self.s3) ? 1 : 0) + (has(self.deployment) ? 1 : 0) == 1",
    message: "set exactly one of backup, s3 or deployment",
    reason: "FieldValueInvalid"
  }
)
export type RestoreSource = typeof RestoreSource.Type

export const RestoreSpec = Schema.Struct({ from: RestoreSource }).pipe(
  doc(
    "Start this new instance from a backup: imported once with --replace-all after the backend is ready, before " +
      "the instance reports Ready. Only when the instance is created: restoring over an existing instance is refused."
  )
)
export type RestoreSpec = typeof RestoreSpec.Type

/** The CEL rule on `spec` that refuses adding or changing `restore` on an existing instance. */
export const restoreOnlyAtCreation = {
  rule: "has(oldSelf.restore) ? (has(self.restore) && self.restore == oldSelf.restore) : !has(self.restore)",
  message:
    "spec.restore can only be set when the instance is created (restoring over an existing instance's data is " +
    "refused, and a restore is never changed): create a new ConvexInstance with spec.restore instead",
  fieldPath: ".restore"
} as const

export const RestorePhase = Schema.Literal("Pending", "Running", "Succeeded", "Failed")
export type RestorePhase = typeof RestorePhase.Type

const DateTime = Schema.String.pipe(crdExtra({ format: "date-time" }))

export const RestoreStatus = Schema.Struct({
  phase: RestorePhase.pipe(
    doc(
      "Pending (waiting for the backup or the backend), Running, Succeeded (final) or Failed (stopped until the " +
        "convex.icod.de/retry-restore annotation gets a new value)."
    )
  ),
  source: Schema.String.pipe(doc("What was restored: backup/<name>, s3://<bucket>/<key> or deployment/<url host>.")),
  job: optional(Schema.String.pipe(doc("The import Job."))),
  attempt: optional(
    Int32.pipe(Schema.greaterThanOrEqualTo(1), doc("The attempt the import Job runs (1 when absent; a retry adds 1)."))
  ),
  retryRequest: optional(
    Schema.String.pipe(
      Schema.maxLength(64),
      doc("Hash of the convex.icod.de/retry-restore annotation value already seen (only a new value retries).")
    )
  ),
  startedAt: optional(DateTime.pipe(doc("When the import Job was created."))),
  finishedAt: optional(DateTime.pipe(doc("When the import finished."))),
  message: optional(Schema.String.pipe(doc("What the restore waits for, or why it failed.")))
}).pipe(doc("The restore of spec.restore; once Succeeded it is never run again."))
export type RestoreStatus = typeof RestoreStatus.Type
