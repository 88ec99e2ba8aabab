/**
 * The pre-upgrade export as a ConvexBackup: the upgrade's Export step creates one ConvexBackup per attempt, named
 * from the instance, the upgrade's target hash and the attempt (a restarted operator finds it instead of creating a
 * second), labelled `convex.icod.de/upgrade-hash=<hash>` and owned by nothing, so the operator never deletes it and
 * users find and restore it like any backup. The backup controller runs its Job; the plan only reads its phase.
 * exportImport's Import step imports from the location the completed backup recorded, with the restore Job of
 * `spec.restore` (core `render/backup-jobs.ts`).
 *
 * @module
 */
import { Either, Schema } from "effect"
import {
  apiVersion,
  type BackupTarget,
  BackupTarget as BackupTargetSchema,
  backupKind,
  decodeConvexBackup
} from "../../api/index.js"
import { jobTargetOf, parseLocation, type RestoreFrom, renderRestoreJob } from "../../render/backup-jobs.js"
import { childMeta, type RenderContext } from "../../render/context.js"
import { attemptAnnotation, upgradeJobName } from "../../render/jobs.js"
import type { ConvexBackupObject, Job, KubeObject } from "../../render/objects.js"
import type { JobOutcome } from "../status/workloads.js"

/** The label naming the upgrade (its target hash) a pre-upgrade ConvexBackup belongs to. */
export const upgradeHashLabel = "convex.icod.de/upgrade-hash"

const defaultTarget: BackupTarget = { pvc: {} }
const encodeTarget = Schema.encodeSync(BackupTargetSchema)

/** The pre-upgrade ConvexBackup (created once; its spec is immutable, so it is never applied again). */
export const renderUpgradeBackup = (
  context: RenderContext,
  hash: string,
  attempt: number,
  target: BackupTarget | undefined
): ConvexBackupObject => {
  const meta = childMeta(context, context.names.preUpgradeBackup(hash, attempt), "snapshot", {
    annotations: { [attemptAnnotation]: String(attempt) },
    owned: false
  })
  return {
    apiVersion,
    kind: backupKind,
    metadata: { ...meta, labels: { ...meta.labels, [upgradeHashLabel]: hash.slice(0, 63) } },
    spec: {
      instanceRef: { name: context.name },
      target: encodeTarget(target ?? defaultTarget),
      deletionPolicy: "Retain"
    }
  }
}

const decode = (object: KubeObject | undefined) =>
  object === undefined ? undefined : Either.getOrUndefined(decodeConvexBackup(object))

/** A pre-upgrade backup's phase as the outcome of its step: Completed succeeded, Failed failed, else it runs. */
export const upgradeBackupOutcome = (object: KubeObject | undefined): JobOutcome => {
  if (object === undefined) return "Absent"
  const phase = decode(object)?.status?.phase
  return phase === "Completed" ? "Succeeded" : phase === "Failed" ? "Failed" : "Running"
}

/** Where a completed ConvexBackup's ZIP is, for a restore Job, or why it cannot be read. */
export const backupSource = (
  name: string,
  object: KubeObject | undefined
): { readonly from: RestoreFrom; readonly label: string } | { readonly waiting: string } => {
  const backup = decode(object)
  if (backup === undefined) return { waiting: `ConvexBackup ${name} not found in this namespace` }
  if (backup.status?.phase !== "Completed" || backup.status.location === undefined) {
    return { waiting: `ConvexBackup ${name} is ${backup.status?.phase ?? "Pending"}, not Completed` }
  }
  const location = parseLocation(backup.status.location)
  if (location === undefined) return { waiting: `ConvexBackup ${name} has no readable location` }
  const s3 = backup.spec.target.s3
  if (location._tag === "pvc") return { from: location, label: `backup/${name}` }
  if (s3 === undefined) return { waiting: `ConvexBackup ${name} is in a bucket but names no S3 settings` }
  return { from: { _tag: "s3", location: { ...s3, key: location.key } }, label: `backup/${name}` }
}

/** The Import step's Job (attempt `attempt`): the restore Job of `spec.restore`, reading the pre-upgrade backup. */
export const renderUpgradeImportJob = (context: RenderContext, hash: string, attempt: number, from: RestoreFrom): Job =>
  renderRestoreJob(
    jobTargetOf(context),
    from,
    childMeta(context, "", "snapshot").labels,
    context.ownerReferences,
    // One pod per attempt: the upgrade plan retries the step itself.
    {
      name: upgradeJobName(context.names, "Import", hash),
      annotations: { [attemptAnnotation]: String(attempt) },
      backoffLimit: 0
    }
  )
