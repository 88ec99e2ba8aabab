/**
 * Where backups go and where restores come from: a PersistentVolumeClaim per instance, or S3-compatible object
 * storage. Shared by `ConvexBackup`, `ConvexScheduledBackup` and `ConvexInstance.spec.restore`.
 *
 * @module
 */
import { Schema } from "effect"
import { crossField, doc, optional, withDefault } from "./annotations.js"
import { caBundleChecks } from "./ca-bundle.js"
import { DataKey, HttpUrl, ObjectName, Quantity } from "./primitives.js"

/** A claim per instance that holds its backup ZIPs; created when absent and owned by nothing, so it survives. */
export const PvcBackupTarget = Schema.Struct({
  claimName: optional(
    ObjectName.pipe(doc("The claim to write to; defaults to <instance>-backups (created when absent, never deleted)."))
  ),
  size: optional(Quantity.pipe(doc("Capacity of a claim the operator creates; defaults to 10Gi."))),
  storageClassName: optional(ObjectName.pipe(doc("StorageClass of a claim the operator creates.")))
}).pipe(doc("Keep backups on a PersistentVolumeClaim in the instance's namespace."))
export type PvcBackupTarget = typeof PvcBackupTarget.Type

/** The Secret with the S3 credentials, and the keys that hold them. */
export const S3Credentials = Schema.Struct({
  name: ObjectName.pipe(doc("Secret in this namespace with the access key id and secret access key.")),
  accessKeyIdKey: withDefault(DataKey.pipe(doc("Key of the access key id.")), "AWS_ACCESS_KEY_ID"),
  secretAccessKeyKey: withDefault(DataKey.pipe(doc("Key of the secret access key.")), "AWS_SECRET_ACCESS_KEY")
}).pipe(doc("Credentials of the bucket."))
export type S3Credentials = typeof S3Credentials.Type

const bucketPattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

const s3Fields = {
  bucket: Schema.String.pipe(
    Schema.pattern(bucketPattern, { description: "an S3 bucket name (3-63 lower-case letters, digits, '.', '-')" }),
    doc("Bucket name.")
  ),
  endpoint: optional(HttpUrl.pipe(doc("Endpoint of S3-compatible storage (SeaweedFS, Ceph RGW, R2); AWS when empty."))),
  region: withDefault(Schema.String.pipe(Schema.minLength(1), doc("Region of the bucket.")), "us-east-1"),
  forcePathStyle: withDefault(
    Schema.Boolean.pipe(doc("Path-style addressing (bucket in the path), needed by most S3-compatible servers.")),
    false
  ),
  secretRef: S3Credentials,
  caSecretRef: optional(
    ObjectName.pipe(
      doc(
        "Secret in this namespace holding the PEM CA bundle that signed the endpoint's certificate (a MinIO with " +
          "its own CA). Mounted read-only in the Job containers that talk to the bucket, which trust it besides " +
          "the public roots (NODE_EXTRA_CA_CERTS). Not taken from backend.s3: name it here too."
      )
    )
  ),
  caConfigMapRef: optional(
    ObjectName.pipe(doc("ConfigMap in this namespace holding the endpoint's CA bundle (instead of caSecretRef)."))
  ),
  caKey: optional(DataKey.pipe(doc("Key of caSecretRef or caConfigMapRef holding the PEM bundle. Defaults to ca.crt.")))
}

/** S3-compatible object storage; objects are named `<prefix>/<namespace>/<instance>/<backup>.zip`. */
export const S3BackupTarget = crossField(
  Schema.Struct({
    ...s3Fields,
    prefix: optional(
      Schema.String.pipe(
        Schema.maxLength(512),
        Schema.pattern(/^[^/\s]([^\s]*[^/\s])?$/, { description: "a key prefix without leading or trailing '/'" }),
        doc("Key prefix of the backups in the bucket, e.g. convex/backups.")
      )
    )
  }).pipe(doc("Keep backups in an S3-compatible bucket.")),
  ...caBundleChecks
)
export type S3BackupTarget = typeof S3BackupTarget.Type

/** Exactly one of pvc or s3. */
export const BackupTarget = crossField(
  Schema.Struct({ pvc: optional(PvcBackupTarget), s3: optional(S3BackupTarget) }).pipe(
    doc("Where the backup ZIP is kept: pvc or s3 (exactly one).")
  ),
  {
    check: (target) => (target.pvc === undefined) !== (target.s3 === undefined),
    rule: "has(self.pvc) != has(self.s3)",
    message: "set exactly one of pvc or s3",
    reason: "FieldValueInvalid"
  }
)
export type BackupTarget = typeof BackupTarget.Type

/** An object in a bucket to restore from (a backup made elsewhere, or one whose ConvexBackup is gone). */
export const S3Location = crossField(
  Schema.Struct({
    ...s3Fields,
    key: Schema.String.pipe(
      Schema.minLength(1),
      Schema.maxLength(1024),
      Schema.pattern(/^[^/\s].*\.zip$/, { description: "an object key ending in .zip" }),
      doc("Key of the snapshot ZIP, e.g. convex/backups/prod/app/app-20260101.zip.")
    )
  }).pipe(doc("A snapshot ZIP in an S3-compatible bucket.")),
  ...caBundleChecks
)
export type S3Location = typeof S3Location.Type

/** A reference to the instance a backup is of. */
export const InstanceRef = Schema.Struct({
  name: ObjectName.pipe(doc("Name of the ConvexInstance in this namespace."))
}).pipe(doc("The ConvexInstance to back up."))
export type InstanceRef = typeof InstanceRef.Type
