/**
 * The Jobs of backups and restores (also the import of an exportImport upgrade). They run the operator's image
 * like the upgrade's env Jobs:
 *
 * - backup: an init container runs `snapshot export --include-file-storage` (to the claim, or to a scratch
 *   volume), recording which backend-side snapshot it downloaded; then `backup store` uploads the ZIP to the
 *   bucket (S3 targets), expires the backend's own copy of the export (else every backup would leave a full ZIP in
 *   the backend's storage for 14 days plus MAX_EXPIRED_SNAPSHOT_AGE_DAYS), and reports the ZIP's size and location
 *   as its termination message;
 * - restore: `backup fetch` downloads the ZIP from a bucket (S3 sources only), or `snapshot export` exports a live
 *   deployment (a deployment moved in, with its admin key from the user's Secret), then `snapshot import
 *   --replace-all` loads it into the new instance.
 *
 * A target or location that names a private CA gets it mounted in `store`, `remove` and `fetch`, the containers
 * that talk to the bucket (`job-ca.ts`).
 *
 * Backup Jobs and claims carry no `app.kubernetes.io/instance` label: they belong to a ConvexBackup, not to the
 * instance (whose reconciler deletes managed children it did not render).
 *
 * @module
 */
import type {
  DeploymentSource,
  EnvVar,
  OwnerReference,
  PvcBackupTarget,
  S3BackupTarget,
  S3Location
} from "../api/index.js"
import type { RenderContext } from "./context.js"
import { shortHash } from "./hash.js"
import { type JobCa, jobCa } from "./job-ca.js"
import { jobContainerSecurity, jobPodSecurity } from "./job-security.js"
import { labelValue, managedBy } from "./labels.js"
import { secretKeys } from "./names.js"
import type { Container, Job, PersistentVolumeClaim, Volume } from "./objects.js"

/** Labels of backup objects. */
export const backupLabels = {
  instance: "convex.icod.de/instance",
  backup: "convex.icod.de/backup",
  schedule: "convex.icod.de/scheduled-backup"
} as const

/** Where a backup claim (or the scratch volume) is mounted. */
export const backupMountPath = "/backups"

/** The claim an instance's PVC backups go to. */
export const backupClaimName = (instance: string, target: PvcBackupTarget): string =>
  target.claimName ?? `${instance}-backups`

/** A name of at most 63 characters (a Job name becomes a pod label) made of `base` and `suffix`. */
const boundedName = (base: string, suffix: string): string =>
  base.length + suffix.length <= 63
    ? `${base}${suffix}`
    : `${base.slice(0, 56 - suffix.length)}-${shortHash(base).slice(0, 6)}${suffix}`

/** The Job of the backup `backup`. */
export const backupJobName = (backup: string): string => boundedName(backup, "-backup")

/** The file name of a backup's ZIP. */
export const backupFileName = (backup: string): string => `${backup}.zip`

/** The record of the backend-side snapshot of a backup's export (written by the export step, removed by store). */
export const exportRecordPath = (backup: string): string => `${backupMountPath}/.${backup}.export.json`

/** The object key of a backup in a bucket: `<prefix>/<namespace>/<instance>/<backup>.zip`. */
export const backupObjectKey = (target: S3BackupTarget, namespace: string, instance: string, backup: string) =>
  [target.prefix, namespace, instance, backupFileName(backup)].filter((part) => part !== undefined).join("/")

/** Where a backup's ZIP is: `pvc://<claim>/<file>` or `s3://<bucket>/<key>`. */
export const backupLocation = (
  target: { readonly pvc?: PvcBackupTarget | undefined; readonly s3?: S3BackupTarget | undefined },
  namespace: string,
  instance: string,
  backup: string
): string =>
  target.s3 !== undefined
    ? `s3://${target.s3.bucket}/${backupObjectKey(target.s3, namespace, instance, backup)}`
    : `pvc://${backupClaimName(instance, target.pvc ?? {})}/${backupFileName(backup)}`

/** Reads `pvc://claim/file` or `s3://bucket/key` back. */
export const parseLocation = (
  location: string
):
  | { readonly _tag: "pvc"; readonly claim: string; readonly file: string }
  | { readonly _tag: "s3"; readonly bucket: string; readonly key: string }
  | undefined => {
  const match = /^(pvc|s3):\/\/([^/]+)\/(.+)$/.exec(location)
  if (match === null) return undefined
  const [, scheme, first = "", rest = ""] = match
  return scheme === "pvc" ? { _tag: "pvc", claim: first, file: rest } : { _tag: "s3", bucket: first, key: rest }
}

/** The flags of `backup store|fetch` that name a bucket object; credentials come from the environment. */
export const s3Flags = (s3: Omit<S3Location, "secretRef">): ReadonlyArray<string> => [
  "--s3-bucket",
  s3.bucket,
  "--s3-key",
  s3.key,
  "--s3-region",
  s3.region,
  ...(s3.endpoint !== undefined ? ["--s3-endpoint", s3.endpoint] : []),
  ...(s3.forcePathStyle ? ["--s3-force-path-style"] : [])
]

const s3Env = (s3: Pick<S3Location, "secretRef">): ReadonlyArray<EnvVar> => [
  {
    name: "AWS_ACCESS_KEY_ID",
    valueFrom: { secretKeyRef: { name: s3.secretRef.name, key: s3.secretRef.accessKeyIdKey } }
  },
  {
    name: "AWS_SECRET_ACCESS_KEY",
    valueFrom: { secretKeyRef: { name: s3.secretRef.name, key: s3.secretRef.secretAccessKeyKey } }
  }
]

/** What the Jobs need to know about the instance they back up or restore into. */
export interface JobTarget {
  readonly namespace: string
  readonly instance: string
  /** The backend's in-cluster API URL. */
  readonly internalApi: string
  /** The instance's generated Secret (holds the admin key). */
  readonly secrets: string
  /** The operator's image (and command) the Jobs run. */
  readonly image: string
  readonly command?: ReadonlyArray<string> | undefined
}

/** The arguments of the operator's `snapshot export` writing the ZIP `file` (with file storage, always). */
export const snapshotExportArgs = (file: string): ReadonlyArray<string> => [
  "snapshot",
  "export",
  "--path",
  file,
  "--include-file-storage"
]

/** The arguments of the operator's `snapshot import` loading the ZIP `file` over everything. */
export const snapshotImportArgs = (file: string): ReadonlyArray<string> => [
  "snapshot",
  "import",
  "--path",
  file,
  "--replace-all"
]

/** The {@link JobTarget} of a rendered instance. */
export const jobTargetOf = (context: RenderContext): JobTarget => ({
  namespace: context.namespace,
  instance: context.name,
  internalApi: context.urls.internalApi,
  secrets: context.names.secrets,
  image: context.operator.image,
  command: context.operator.command
})

const cliEnv = (target: JobTarget): ReadonlyArray<EnvVar> => [
  { name: "CONVEX_SELF_HOSTED_URL", value: target.internalApi },
  {
    name: "CONVEX_SELF_HOSTED_ADMIN_KEY",
    valueFrom: { secretKeyRef: { name: target.secrets, key: secretKeys.adminKey } }
  }
]

const container = (
  target: Pick<JobTarget, "image" | "command">,
  name: string,
  args: ReadonlyArray<string>,
  env: ReadonlyArray<EnvVar>,
  ca?: JobCa | undefined
): Container => ({
  name,
  image: target.image,
  ...(target.command !== undefined ? { command: target.command } : {}),
  args,
  env: ca !== undefined ? [...env, ca.env] : env,
  volumeMounts: [{ name: "backups", mountPath: backupMountPath }, ...(ca !== undefined ? [ca.mount] : [])],
  terminationMessagePolicy: "FallbackToLogsOnError",
  securityContext: jobContainerSecurity
})

/** What a restore Job of an upgrade's Import step sets otherwise (its name, its attempt, no retry of its own). */
export interface JobOptions {
  readonly name?: string
  readonly annotations?: Readonly<Record<string, string>>
  readonly backoffLimit?: number
}

const job = (
  name: string,
  namespace: string,
  labels: Readonly<Record<string, string>>,
  ownerReferences: ReadonlyArray<OwnerReference>,
  volume: Volume,
  initContainers: ReadonlyArray<Container>,
  main: Container,
  options: JobOptions = {},
  ca?: JobCa | undefined
): Job => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: {
    name,
    namespace,
    labels,
    ...(options.annotations !== undefined ? { annotations: options.annotations } : {}),
    ...(ownerReferences.length > 0 ? { ownerReferences } : {})
  },
  spec: {
    // One retry: a failed backup is reported, and the next scheduled run tries again.
    backoffLimit: options.backoffLimit ?? 1,
    template: {
      metadata: { labels },
      spec: {
        restartPolicy: "Never",
        enableServiceLinks: false,
        securityContext: jobPodSecurity,
        ...(initContainers.length > 0 ? { initContainers } : {}),
        containers: [main],
        volumes: ca !== undefined ? [volume, ca.volume] : [volume]
      }
    }
  }
})

/** The labels of the backup objects of `backup` of `instance`. */
export const backupObjectLabels = (instance: string, backup: string): Readonly<Record<string, string>> => ({
  "app.kubernetes.io/name": "convex",
  "app.kubernetes.io/component": "backup",
  "app.kubernetes.io/managed-by": managedBy,
  [backupLabels.instance]: labelValue(instance),
  [backupLabels.backup]: labelValue(backup)
})

/** The container whose termination message is the store report. */
export const storeContainerName = "store"

/** The backup Job of `backup` (owned by the ConvexBackup `owner`). */
export const renderBackupJob = (
  target: JobTarget,
  backup: string,
  destination: { readonly pvc?: PvcBackupTarget | undefined; readonly s3?: S3BackupTarget | undefined },
  owner: OwnerReference
): Job => {
  const file = `${backupMountPath}/${backupFileName(backup)}`
  const location = backupLocation(destination, target.namespace, target.instance, backup)
  const volume: Volume =
    destination.s3 !== undefined
      ? { name: "backups", emptyDir: {} }
      : {
          name: "backups",
          persistentVolumeClaim: { claimName: backupClaimName(target.instance, destination.pvc ?? {}) }
        }
  const s3 = destination.s3
  const ca = s3 !== undefined ? jobCa(s3) : undefined
  const store = container(
    target,
    storeContainerName,
    [
      "backup",
      "store",
      "--file",
      file,
      "--location",
      location,
      "--expire-export",
      exportRecordPath(backup),
      ...(s3 !== undefined
        ? s3Flags({ ...s3, key: backupObjectKey(s3, target.namespace, target.instance, backup) })
        : [])
    ],
    [...cliEnv(target), ...(s3 !== undefined ? s3Env(s3) : [])],
    ca
  )
  const exporter = container(
    target,
    "export",
    [...snapshotExportArgs(file), "--record", exportRecordPath(backup)],
    cliEnv(target)
  )
  return job(
    backupJobName(backup),
    target.namespace,
    backupObjectLabels(target.instance, backup),
    [owner],
    volume,
    [exporter],
    store,
    {},
    ca
  )
}

/** The Job that removes the ZIP of a deleted backup with deletionPolicy Delete. */
export const removalJobName = (backup: string): string => boundedName(backup, "-remove")

/** The removal Job of `backup` at `location` (owned by the ConvexBackup being deleted). */
export const renderRemovalJob = (
  target: Pick<JobTarget, "namespace" | "instance" | "image" | "command">,
  backup: string,
  destination: { readonly pvc?: PvcBackupTarget | undefined; readonly s3?: S3BackupTarget | undefined },
  owner: OwnerReference
): Job => {
  const s3 = destination.s3
  const volume: Volume =
    s3 !== undefined
      ? { name: "backups", emptyDir: {} }
      : {
          name: "backups",
          persistentVolumeClaim: { claimName: backupClaimName(target.instance, destination.pvc ?? {}) }
        }
  const ca = s3 !== undefined ? jobCa(s3) : undefined
  const args =
    s3 !== undefined
      ? ["backup", "remove", ...s3Flags({ ...s3, key: backupObjectKey(s3, target.namespace, target.instance, backup) })]
      : ["backup", "remove", "--file", `${backupMountPath}/${backupFileName(backup)}`]
  return job(
    removalJobName(backup),
    target.namespace,
    backupObjectLabels(target.instance, backup),
    [owner],
    volume,
    [],
    container(target, "remove", args, s3 !== undefined ? s3Env(s3) : [], ca),
    {},
    ca
  )
}

/** The claim of PVC backups of `instance`, when the operator creates it: owned by nothing, so it is retained. */
export const renderBackupClaim = (
  namespace: string,
  instance: string,
  target: PvcBackupTarget
): PersistentVolumeClaim => ({
  apiVersion: "v1",
  kind: "PersistentVolumeClaim",
  metadata: {
    name: backupClaimName(instance, target),
    namespace,
    labels: {
      "app.kubernetes.io/name": "convex",
      "app.kubernetes.io/component": "backup",
      "app.kubernetes.io/managed-by": managedBy,
      [backupLabels.instance]: labelValue(instance)
    }
  },
  spec: {
    accessModes: ["ReadWriteOnce"],
    resources: { requests: { storage: target.size ?? "10Gi" } },
    ...(target.storageClassName !== undefined ? { storageClassName: target.storageClassName } : {})
  }
})

/** Where a restore reads its snapshot: a file on a backup claim, an object in a bucket, or a live deployment. */
export type RestoreFrom =
  | { readonly _tag: "pvc"; readonly claim: string; readonly file: string }
  | { readonly _tag: "s3"; readonly location: S3Location }
  | { readonly _tag: "deployment"; readonly deployment: DeploymentSource }

/** The environment of `snapshot export` against a live deployment: its URL, its admin key from the user's Secret. */
const deploymentEnv = (deployment: DeploymentSource): ReadonlyArray<EnvVar> => [
  { name: "CONVEX_SELF_HOSTED_URL", value: deployment.url },
  {
    name: "CONVEX_SELF_HOSTED_ADMIN_KEY",
    valueFrom: { secretKeyRef: { name: deployment.adminKeySecretRef.name, key: deployment.adminKeySecretRef.key } }
  }
]

/** The restore (import) Job of an instance: `<instance>-restore`, owned by the instance. */
export const restoreJobName = (instance: string): string => boundedName(instance, "-restore")

export const renderRestoreJob = (
  target: JobTarget,
  from: RestoreFrom,
  labels: Readonly<Record<string, string>>,
  ownerReferences: ReadonlyArray<OwnerReference>,
  options: JobOptions = {}
): Job => {
  const name = options.name ?? restoreJobName(target.instance)
  const file = `${backupMountPath}/${from._tag === "pvc" ? from.file : "snapshot.zip"}`
  const importer = container(target, "import", snapshotImportArgs(file), cliEnv(target))
  if (from._tag === "pvc") {
    return job(
      name,
      target.namespace,
      labels,
      ownerReferences,
      { name: "backups", persistentVolumeClaim: { claimName: from.claim } },
      [],
      importer,
      options
    )
  }
  if (from._tag === "deployment") {
    // The export of the old deployment goes to the Job's scratch volume; the import reads it from there.
    const exporter = container(target, "export", snapshotExportArgs(file), deploymentEnv(from.deployment))
    return job(
      name,
      target.namespace,
      labels,
      ownerReferences,
      { name: "backups", emptyDir: {} },
      [exporter],
      importer,
      options
    )
  }
  const ca = jobCa(from.location)
  const fetch = container(
    target,
    "fetch",
    ["backup", "fetch", "--file", file, ...s3Flags(from.location)],
    s3Env(from.location),
    ca
  )
  return job(
    name,
    target.namespace,
    labels,
    ownerReferences,
    { name: "backups", emptyDir: {} },
    [fetch],
    importer,
    options,
    ca
  )
}
