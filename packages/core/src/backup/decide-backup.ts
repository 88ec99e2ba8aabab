/**
 * `decideBackup`: what one ConvexBackup needs, as a pure function of the backup, its instance, the other backups of
 * that instance, its observed Job and claim, the Job's store report and the time. Pending while the interlock says
 * wait; Running once its Job is created; Completed or Failed (final) from the Job's outcome, a failure naming what
 * the Job's failed container said. A cause visible before any Job runs fails the backup at once, without a Job:
 * an S3 target whose credentials Secret or one of its keys is missing (a pod could not even start: it would wait
 * in CreateContainerConfigError for ever), or whose CA bundle object or key is missing or holds no certificate (the
 * pod would wait in ContainerCreating, or every request would fail verification).
 *
 * @module
 */
import { Option, Schema } from "effect"
import type { ConvexBackup, ConvexBackupStatus, ConvexInstance } from "../api/index.js"
import { sameJson } from "../internal/diff.js"
import { applyConditions, formatTime } from "../internal/status/conditions.js"
import type { DecidedEvent } from "../internal/status/events.js"
import { jobOutcome } from "../internal/status/workloads.js"
import { upgradeHashLabel } from "../internal/upgrade/backup.js"
import {
  backupJobName,
  backupLocation,
  removalJobName,
  renderBackupClaim,
  renderBackupJob,
  renderRemovalJob
} from "../render/backup-jobs.js"
import type { OperatorSettings } from "../render/context.js"
import { jobCaProblem } from "../render/job-ca.js"
import { childNames } from "../render/names.js"
import type { Job, KubeObject, PersistentVolumeClaim } from "../render/objects.js"
import { instanceUrls } from "../render/urls.js"
import { type BackupTurn, backupTurn } from "./interlock.js"

/** What `backup store` prints as its termination message. */
export const StoreReport = Schema.Struct({
  sizeBytes: Schema.Number,
  location: Schema.String,
  /** Something the store step could not do that does not fail the backup (the backend's copy not expired). */
  warning: Schema.optional(Schema.String)
})
export type StoreReport = typeof StoreReport.Type
const decodeReport = Schema.decodeUnknownOption(Schema.parseJson(StoreReport))

/** The store report in a termination message, if it is one. */
export const parseStoreReport = (message: string | undefined): StoreReport | undefined =>
  message === undefined ? undefined : Option.getOrUndefined(decodeReport(message.trim()))

/** A size as a binary quantity with one decimal: `812B`, `12.4Ki`, `3.0Gi`. */
export const formatSize = (bytes: number): string => {
  const units = ["Ki", "Mi", "Gi", "Ti"]
  if (bytes < 1024) return `${bytes}B`
  let value = bytes
  let unit = ""
  for (const next of units) {
    if (value < 1024) break
    value /= 1024
    unit = next
  }
  return `${value.toFixed(1)}${unit}`
}

export interface BackupObservation {
  readonly backup: ConvexBackup
  /** The instance `spec.instanceRef` names, if it exists. */
  readonly instance: ConvexInstance | undefined
  /** Every backup of the same instance (this one included or not). */
  readonly siblings: ReadonlyArray<BackupTurn>
  /** The backup's Job, if it exists. */
  readonly job: KubeObject | undefined
  /** Whether the backup claim exists (PVC targets). */
  readonly claimExists: boolean
  /** The termination message of the Job's store container, once it has one. */
  readonly report: StoreReport | undefined
  /**
   * For an S3 target: the keys of the credentials Secret (`spec.target.s3.secretRef.name`) that hold a non-empty
   * value, or undefined when that Secret does not exist. Not read for a claim target.
   */
  readonly credentialKeys: ReadonlyArray<string> | undefined
  /**
   * For an S3 target naming a CA bundle: the data of that Secret (values decoded) or ConfigMap, or undefined when it
   * does not exist. Not read otherwise.
   */
  readonly caData?: Readonly<Record<string, string>> | undefined
  /** What the failed containers of the Job's pods said (`jobFailureDetail`), once the Job failed. */
  readonly failureDetail?: string | undefined
  readonly now: Date
  readonly operator: OperatorSettings
}

/** An event on the backup or on its instance. */
export interface BackupEvent extends DecidedEvent {
  readonly on: "backup" | "instance"
}

export interface BackupDecision {
  /** Objects to create (the claim, the Job); apply each. */
  readonly apply: ReadonlyArray<Job | PersistentVolumeClaim>
  readonly status: ConvexBackupStatus
  readonly statusChanged: boolean
  readonly events: ReadonlyArray<BackupEvent>
}

const final = (phase: ConvexBackupStatus["phase"]) => phase === "Completed" || phase === "Failed"

/** The message of a Job's Failed condition. */
const jobFailure = (job: KubeObject | undefined): string => {
  const conditions = (
    job?.status as { conditions?: ReadonlyArray<{ type?: string; reason?: string; message?: string }> }
  )?.conditions
  const failed = conditions?.find((condition) => condition.type === "Failed")
  return (
    [failed?.reason, failed?.message].filter((part) => part !== undefined && part !== "").join(": ") || "the Job failed"
  )
}

/**
 * What is missing for an S3 target's Job to start (its pod reads both keys of the credentials Secret), as a
 * message naming the field, the Secret and the key; undefined when nothing is.
 */
export const missingCredentials = (
  backup: ConvexBackup,
  credentialKeys: ReadonlyArray<string> | undefined
): string | undefined => {
  const s3 = backup.spec.target.s3
  if (s3 === undefined) return undefined
  const { name, accessKeyIdKey, secretAccessKeyKey } = s3.secretRef
  const namespace = backup.metadata.namespace ?? "default"
  if (credentialKeys === undefined) {
    return `spec.target.s3.secretRef: Secret "${name}" does not exist in namespace ${namespace}; create it with the keys "${accessKeyIdKey}" and "${secretAccessKeyKey}", then create a new ConvexBackup`
  }
  const missing = [accessKeyIdKey, secretAccessKeyKey].filter((key) => !credentialKeys.includes(key))
  if (missing.length === 0) return undefined
  const field = (key: string) =>
    key === accessKeyIdKey ? "spec.target.s3.secretRef.accessKeyIdKey" : "spec.target.s3.secretRef.secretAccessKeyKey"
  return `${missing.map((key) => `${field(key)}: Secret "${name}" has no key "${key}" (or its value is empty)`).join("; ")}; add ${missing.length === 1 ? "it" : "them"} to the Secret, then create a new ConvexBackup`
}

/** The controller reference to `backup` of the Jobs it owns. */
const ownerOf = (backup: ConvexBackup) => ({
  apiVersion: backup.apiVersion,
  kind: backup.kind,
  name: backup.metadata.name ?? "",
  uid: backup.metadata.uid ?? "",
  controller: true,
  blockOwnerDeletion: true
})

/** Decides one step of `backup`. */
export const decideBackup = (observed: BackupObservation): BackupDecision => {
  const { backup, now } = observed
  const previous = backup.status ?? {}
  const name = backup.metadata.name ?? ""
  const namespace = backup.metadata.namespace ?? "default"
  const instanceName = backup.spec.instanceRef.name
  const jobName = backupJobName(name)
  const keep: BackupDecision = { apply: [], status: previous, statusChanged: false, events: [] }
  if (final(previous.phase) || backup.metadata.deletionTimestamp !== undefined) return keep

  const generation = backup.metadata.generation
  const withCondition = (
    status: ConvexBackupStatus,
    state: { status: "True" | "False"; reason: string; message: string }
  ): ConvexBackupStatus => ({
    ...status,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions: applyConditions(previous.conditions, [{ type: "Completed", ...state }], generation, now)
  })
  const decided = (status: ConvexBackupStatus, apply: BackupDecision["apply"], events: ReadonlyArray<BackupEvent>) => ({
    apply,
    status,
    statusChanged: !sameJson(previous, status),
    events
  })
  const location = backupLocation(backup.spec.target, namespace, instanceName, name)

  const outcome = jobOutcome(observed.job)
  if (outcome === "Succeeded") {
    const report = observed.report
    const status = withCondition(
      {
        phase: "Completed",
        ...(previous.startedAt !== undefined ? { startedAt: previous.startedAt } : {}),
        finishedAt: formatTime(now),
        ...(report !== undefined ? { size: formatSize(report.sizeBytes), sizeBytes: report.sizeBytes } : {}),
        location,
        job: jobName,
        ...(report?.warning !== undefined ? { message: report.warning } : {})
      },
      {
        status: "True",
        reason: "Completed",
        message: `the snapshot (with file storage) is at ${location}${report?.warning !== undefined ? `; ${report.warning}` : ""}`
      }
    )
    return decided(
      status,
      [],
      [
        {
          on: "backup",
          type: "Normal",
          reason: "BackupCompleted",
          action: "Backup",
          message: `backup ${name} is at ${location}`
        },
        ...(report?.warning !== undefined
          ? [
              {
                on: "backup" as const,
                type: "Warning" as const,
                reason: "ExportNotExpired",
                action: "Backup",
                message: `backup ${name} is stored, but ${report.warning}; the backend deletes that copy MAX_EXPIRED_SNAPSHOT_AGE_DAYS after its 14-day expiry`
              }
            ]
          : [])
      ]
    )
  }
  const failed = (message: string, job: string | undefined) => {
    const status = withCondition(
      {
        phase: "Failed",
        ...(previous.startedAt !== undefined ? { startedAt: previous.startedAt } : {}),
        finishedAt: formatTime(now),
        ...(job !== undefined ? { job } : {}),
        message
      },
      { status: "False", reason: "BackupFailed", message }
    )
    return decided(
      status,
      [],
      [
        { on: "backup", type: "Warning", reason: "BackupFailed", action: "Backup", message },
        { on: "instance", type: "Warning", reason: "BackupFailed", action: "Backup", message }
      ]
    )
  }
  if (outcome === "Failed" || (outcome === "Absent" && previous.phase === "Running")) {
    const reason = outcome === "Failed" ? jobFailure(observed.job) : `the backup Job ${jobName} disappeared`
    const detail = outcome === "Failed" && observed.failureDetail !== undefined ? `; ${observed.failureDetail}` : ""
    return failed(
      `backup ${name} failed: ${reason}${detail}; see kubectl logs job/${jobName} -n ${namespace} --all-containers`,
      jobName
    )
  }
  if (outcome === "Running") {
    const status = withCondition(
      { phase: "Running", startedAt: previous.startedAt ?? formatTime(now), job: jobName },
      { status: "False", reason: "Running", message: `the backup Job ${jobName} runs` }
    )
    return decided(status, [], [])
  }

  // No Job yet. A cause visible now fails the backup without a Job (its pod could not start).
  const missing = missingCredentials(backup, observed.credentialKeys)
  if (missing !== undefined) return failed(`backup ${name} failed: ${missing}`, undefined)
  const s3 = backup.spec.target.s3
  const caProblem = s3 !== undefined ? jobCaProblem(s3, "spec.target.s3", observed.caData) : undefined
  if (caProblem !== undefined) {
    return failed(`backup ${name} failed: ${caProblem}; fix it, then create a new ConvexBackup`, undefined)
  }
  // Start when it is this backup's turn.
  const self: BackupTurn = {
    name,
    phase: previous.phase,
    createdAt: backup.metadata.creationTimestamp ?? "",
    upgradeHash: backup.metadata.labels?.[upgradeHashLabel]
  }
  const turn = backupTurn(self, observed.instance, observed.siblings)
  if (turn._tag === "Wait" || observed.instance === undefined) {
    const message = turn._tag === "Wait" ? turn.message : "the ConvexInstance does not exist"
    const reason = turn._tag === "Wait" ? turn.reason : "InstanceNotFound"
    const status = withCondition({ phase: "Pending", message }, { status: "False", reason, message })
    return decided(status, [], [])
  }
  const instance = observed.instance
  const owner = ownerOf(backup)
  const job = renderBackupJob(
    {
      namespace,
      instance: instanceName,
      internalApi: instanceUrls(instance, namespace).internalApi,
      secrets: childNames(instanceName).secrets,
      image: observed.operator.image,
      command: observed.operator.command
    },
    name,
    backup.spec.target,
    owner
  )
  const pvc = backup.spec.target.pvc
  const claim = pvc !== undefined && !observed.claimExists ? [renderBackupClaim(namespace, instanceName, pvc)] : []
  const status = withCondition(
    { phase: "Running", startedAt: formatTime(now), job: jobName },
    { status: "False", reason: "Running", message: `the backup Job ${jobName} runs` }
  )
  return decided(
    status,
    [...claim, job],
    [
      {
        on: "backup",
        type: "Normal",
        reason: "BackupStarted",
        action: "Backup",
        message: `backing up ${instanceName} to ${location}`
      }
    ]
  )
}

/** The finalizer of a backup whose ZIP goes with it (deletionPolicy Delete). */
export const backupDataFinalizer = "convex.icod.de/backup-data"

export interface BackupDeletion {
  /** The removal Job to create. */
  readonly apply: ReadonlyArray<Job>
  /** Remove the finalizer now (the ZIP is gone, or there is none to remove, or removing it failed). */
  readonly release: boolean
  readonly events: ReadonlyArray<BackupEvent>
}

/**
 * A backup being deleted: with deletionPolicy Delete and a finished ZIP, a removal Job deletes the ZIP (file or
 * object) before the finalizer goes; a failed removal is reported (the ZIP stays where status.location says).
 */
export const decideBackupDeletion = (observed: {
  readonly backup: ConvexBackup
  readonly removalJob: KubeObject | undefined
  readonly operator: OperatorSettings
}): BackupDeletion => {
  const { backup } = observed
  const name = backup.metadata.name ?? ""
  const namespace = backup.metadata.namespace ?? "default"
  if (!(backup.metadata.finalizers ?? []).includes(backupDataFinalizer))
    return { apply: [], release: false, events: [] }
  const location = backup.status?.location
  if (backup.spec.deletionPolicy !== "Delete" || location === undefined) return { apply: [], release: true, events: [] }
  const jobName = removalJobName(name)
  switch (jobOutcome(observed.removalJob)) {
    case "Absent":
      return {
        apply: [
          renderRemovalJob(
            {
              namespace,
              instance: backup.spec.instanceRef.name,
              image: observed.operator.image,
              command: observed.operator.command
            },
            name,
            backup.spec.target,
            ownerOf(backup)
          )
        ],
        release: false,
        events: []
      }
    case "Running":
      return { apply: [], release: false, events: [] }
    case "Succeeded":
      return {
        apply: [],
        release: true,
        events: [
          {
            on: "backup",
            type: "Normal",
            reason: "BackupDataDeleted",
            action: "Delete",
            message: `deleted ${location}`
          }
        ]
      }
    case "Failed": {
      const message = `could not delete ${location} (kubectl logs job/${jobName} -n ${namespace}); the ZIP is left there`
      return {
        apply: [],
        release: true,
        events: [
          { on: "backup", type: "Warning", reason: "BackupDataNotDeleted", action: "Delete", message },
          { on: "instance", type: "Warning", reason: "BackupDataNotDeleted", action: "Delete", message }
        ]
      }
    }
  }
}
