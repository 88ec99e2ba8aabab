/**
 * The restore of a new instance (`spec.restore.from`): once the backend is ready, one import Job with
 * `--replace-all`; the instance is not Ready until it succeeded; the result is kept in `status.restore` and a
 * Succeeded restore never runs again (its Job is neither rendered again nor deleted).
 *
 * A failed import stops the restore in `Failed` (Ready False, a Warning): the instance never reports Ready over
 * data it did not get. Each new value of the annotation {@link restoreRetryAnnotation} then runs the import once
 * more as the next attempt (`status.restore.attempt`); a value seen before the failure does not count. The import
 * Job keeps its name and carries its attempt as an annotation: a Job of another attempt is not rendered, so the
 * instance's reconciler deletes it, and the next attempt's Job is created once it is gone. `--replace-all` makes an
 * attempt after a partial import start from nothing again.
 *
 * A live deployment (`spec.restore.from.deployment`) is exported by the same Job before the import, with its admin
 * key from the user's Secret (checked before the Job is created, like an S3 location's credentials).
 *
 * An S3 location in the spec (`spec.restore.from.s3`) is checked before its Job is created: while its credentials
 * Secret or a key of it, or its CA bundle object or key, is missing, the restore waits (`Pending`) with a message
 * naming the field; the instance's reconciler watches those objects by name (`instanceReferences`) until the
 * restore succeeded.
 *
 * @module
 */
import type { ConvexInstance, RestoreStatus } from "../api/index.js"
import { type ConditionState, formatTime } from "../internal/status/conditions.js"
import type { DecidedEvent } from "../internal/status/events.js"
import { jobOutcome } from "../internal/status/workloads.js"
import { backupSource } from "../internal/upgrade/backup.js"
import { jobTargetOf, type RestoreFrom, renderRestoreJob, restoreJobName } from "../render/backup-jobs.js"
import { instanceNamespace, type RenderContext } from "../render/context.js"
import { shortHash } from "../render/hash.js"
import { jobCaBundle, jobCaProblem } from "../render/job-ca.js"
import { attemptAnnotation } from "../render/jobs.js"
import { standardLabels } from "../render/labels.js"
import type { Job, KubeObject } from "../render/objects.js"
import { indexObserved } from "../render/observed.js"

export interface RestorePlan {
  /** The import Job to render (only while it is to run or runs). */
  readonly job: Job | undefined
  /** A Job name that must not be deleted although it is not rendered (a finished restore's). */
  readonly keepJob: string | undefined
  readonly status: RestoreStatus | undefined
  /** Ready stays False until the restore succeeded. */
  readonly holdReady: boolean
  readonly failed: boolean
  readonly condition: ConditionState | undefined
  readonly events: ReadonlyArray<DecidedEvent>
}

const none: RestorePlan = {
  job: undefined,
  keepJob: undefined,
  status: undefined,
  holdReady: false,
  failed: false,
  condition: undefined,
  events: []
}

/** Where the snapshot is, or what is missing. */
const sourceOf = (
  instance: ConvexInstance,
  observed: (kind: string, name: string) => KubeObject | undefined
): { readonly from: RestoreFrom; readonly label: string } | { readonly waiting: string } => {
  const from = instance.spec.restore?.from
  if (from?.deployment !== undefined) {
    return { from: { _tag: "deployment", deployment: from.deployment }, label: deploymentLabel(from.deployment.url) }
  }
  if (from?.s3 !== undefined) {
    return { from: { _tag: "s3", location: from.s3 }, label: `s3://${from.s3.bucket}/${from.s3.key}` }
  }
  const name = from?.backup ?? ""
  return backupSource(name, observed("ConvexBackup", name))
}

/** `deployment/<host>` of a live deployment's URL (its path, if any, and never a credential). */
export const deploymentLabel = (url: string): string => {
  try {
    return `deployment/${new URL(url).host}`
  } catch {
    return "deployment/(invalid url)"
  }
}

/** The data of an observed Secret (decoded) or ConfigMap, or undefined when it was not observed. */
const dataOf = (observed: (kind: string, name: string) => KubeObject | undefined, kind: string, name: string) => {
  const object = observed(kind, name)
  if (object === undefined) return undefined
  const index = indexObserved([object])
  return kind === "Secret" ? index.secretData(name) : index.configMapData(name)
}

/**
 * What keeps the Job of `spec.restore.from.s3` from starting or trusting its endpoint: the credentials Secret or one
 * of its keys (missing or empty), or the CA bundle; a message naming the field, undefined when nothing does.
 */
const restoreLocationProblem = (
  instance: ConvexInstance,
  observed: (kind: string, name: string) => KubeObject | undefined
): string | undefined => {
  const deployment = instance.spec.restore?.from.deployment
  if (deployment !== undefined) {
    const { name, key } = deployment.adminKeySecretRef
    const data = dataOf(observed, "Secret", name)
    if (data === undefined) {
      return `spec.restore.from.deployment.adminKeySecretRef: Secret "${name}" does not exist; create it with the old deployment's admin key under key "${key}"`
    }
    if ((data[key] ?? "").trim() === "") {
      return `spec.restore.from.deployment.adminKeySecretRef.key: Secret "${name}" has no key "${key}" (or its value is empty)`
    }
    return undefined
  }
  const s3 = instance.spec.restore?.from.s3
  if (s3 === undefined) return undefined
  const { name, accessKeyIdKey, secretAccessKeyKey } = s3.secretRef
  const credentials = dataOf(observed, "Secret", name)
  if (credentials === undefined) {
    return `spec.restore.from.s3.secretRef: Secret "${name}" does not exist; create it with the keys "${accessKeyIdKey}" and "${secretAccessKeyKey}"`
  }
  const fields = { accessKeyIdKey, secretAccessKeyKey }
  for (const [field, key] of Object.entries(fields)) {
    const value = credentials[key]
    if (value === undefined || value === "") {
      return `spec.restore.from.s3.secretRef.${field}: Secret "${name}" has no key "${key}" (or its value is empty)`
    }
  }
  const bundle = jobCaBundle(s3)
  return bundle === undefined
    ? undefined
    : jobCaProblem(s3, "spec.restore.from.s3", dataOf(observed, bundle.kind, bundle.name))
}

/** The instance annotation whose every new value retries a failed restore once. */
export const restoreRetryAnnotation = "convex.icod.de/retry-restore"

/** The hash under which a retry request is remembered (annotation values may be long). */
const retryHash = (value: string | undefined): string | undefined =>
  value === undefined ? undefined : shortHash({ retryRestore: value })

/** The attempt an observed import Job runs (its annotation; 1 without one). */
const attemptOf = (job: KubeObject | undefined): number => {
  const annotated = Number(job?.metadata.annotations?.[attemptAnnotation])
  return Number.isInteger(annotated) && annotated > 0 ? annotated : 1
}

/**
 * A move of the restore saga: the end of the running import (`from`, the journaled Running status) as its Job ended
 * (`to`: Succeeded or Failed).
 */
export interface RestoreMove {
  readonly from: RestoreStatus
  readonly to: RestoreStatus
}

/** The journal of a running restore once its import Job ended: `phase`, when, and for a failure what to do. */
const endedRestore = (
  running: RestoreStatus,
  phase: "Succeeded" | "Failed",
  namespace: string,
  now: Date
): RestoreStatus => {
  const { message: _message, ...rest } = running
  const job = running.job ?? ""
  const ofAttempt = (running.attempt ?? 1) > 1 ? ` (attempt ${running.attempt})` : ""
  const message = `the import Job ${job} failed${ofAttempt}: see kubectl logs job/${job} -n ${namespace} --all-containers; annotate the instance ${restoreRetryAnnotation}=<a new value> to run the import once more, or delete and re-create the instance`
  return { ...rest, phase, finishedAt: formatTime(now), ...(phase === "Failed" ? { message } : {}) }
}

/**
 * The restore saga's next move for `instance`: the end of its running import once the Job of the journaled attempt
 * succeeded or failed; none while it runs, or when no restore runs.
 */
export const nextRestoreMove = (
  instance: ConvexInstance,
  observed: (kind: string, name: string) => KubeObject | undefined,
  now: Date
): RestoreMove | undefined => {
  const running = instance.status?.restore
  if (running?.phase !== "Running" || instance.spec.restore === undefined) return undefined
  const job = observed("Job", restoreJobName(instance.metadata.name ?? ""))
  if (job === undefined || attemptOf(job) !== (running.attempt ?? 1)) return undefined
  const outcome = jobOutcome(job)
  if (outcome !== "Succeeded" && outcome !== "Failed") return undefined
  return { from: running, to: endedRestore(running, outcome, instanceNamespace(instance), now) }
}

/** The restore step of `context.instance`. */
export const planRestore = (input: {
  readonly context: RenderContext
  readonly observed: (kind: string, name: string) => KubeObject | undefined
  readonly backendReady: boolean
  readonly now: Date
  /**
   * Whether the end of the running import (its Job succeeded or failed) is taken now: given the ended status, the
   * status to journal, or undefined to keep the restore Running (the restore saga has not moved it yet).
   */
  readonly takeEnd: (ended: RestoreStatus) => RestoreStatus | undefined
}): RestorePlan => {
  const { context, now } = input
  const { instance } = context
  const previous = instance.status?.restore
  if (instance.spec.restore === undefined) return { ...none, status: previous }
  const jobName = restoreJobName(context.name)
  if (previous?.phase === "Succeeded") {
    return {
      ...none,
      keepJob: jobName,
      status: previous,
      condition: {
        type: "RestoreCompleted",
        status: "True",
        reason: "Succeeded",
        message: `restored from ${previous.source}`
      }
    }
  }
  const retryRequest = retryHash(instance.metadata.annotations?.[restoreRetryAnnotation])
  const retried = previous?.phase === "Failed" && retryRequest !== undefined && retryRequest !== previous.retryRequest
  if (previous?.phase === "Failed" && !retried) {
    return {
      ...none,
      keepJob: jobName,
      status: previous,
      holdReady: true,
      failed: true,
      condition: { type: "RestoreCompleted", status: "False", reason: "RestoreFailed", message: previous.message ?? "" }
    }
  }
  // A request seen while the restore has not failed is remembered, so that only a later one retries.
  const attempt = (previous?.attempt ?? 1) + (retried ? 1 : 0)
  const tracking = {
    ...(attempt > 1 ? { attempt } : {}),
    ...(retryRequest !== undefined ? { retryRequest } : {})
  }
  const ofAttempt = attempt > 1 ? ` (attempt ${attempt})` : ""
  const source = sourceOf(instance, input.observed)
  const pending = (source: string, message: string): RestorePlan => ({
    ...none,
    status: { phase: "Pending", source, ...tracking, message },
    holdReady: true,
    condition: { type: "RestoreCompleted", status: "False", reason: "Pending", message }
  })
  if ("waiting" in source) return pending(`backup/${instance.spec.restore.from.backup ?? ""}`, source.waiting)
  const observedJob = input.observed("Job", jobName)
  const started = retried || previous?.startedAt === undefined ? formatTime(now) : previous.startedAt
  if (observedJob !== undefined && attemptOf(observedJob) !== attempt) {
    // The Job of an earlier attempt is not rendered, so it is deleted; the next attempt starts once it is gone.
    const message = `removing the failed import Job of attempt ${attemptOf(observedJob)} before attempt ${attempt}`
    return {
      ...none,
      status: { phase: "Running", source: source.label, job: jobName, ...tracking, startedAt: started, message },
      holdReady: true,
      condition: { type: "RestoreCompleted", status: "False", reason: "Running", message }
    }
  }
  const outcome = jobOutcome(observedJob)
  const runningStatus: RestoreStatus = {
    phase: "Running",
    source: source.label,
    job: jobName,
    ...tracking,
    startedAt: started
  }
  // The import runs; its Job, once ended, stays until the restore saga's move is taken (the journal stays Running).
  const running: RestorePlan = {
    ...none,
    keepJob: jobName,
    status: runningStatus,
    holdReady: true,
    condition: {
      type: "RestoreCompleted",
      status: "False",
      reason: "Running",
      message: `importing ${source.label} with --replace-all${ofAttempt}`
    }
  }
  if (outcome === "Succeeded") {
    const status = input.takeEnd(endedRestore(runningStatus, "Succeeded", context.namespace, now))
    if (status === undefined) return running
    return {
      ...none,
      keepJob: jobName,
      status,
      condition: {
        type: "RestoreCompleted",
        status: "True",
        reason: "Succeeded",
        message: `restored from ${source.label}`
      },
      events: [
        {
          type: "Normal",
          reason: "RestoreSucceeded",
          action: "Restore",
          message: `restored from ${source.label} (import --replace-all${attempt > 1 ? `, attempt ${attempt}` : ""})`
        }
      ]
    }
  }
  if (outcome === "Failed") {
    const status = input.takeEnd(endedRestore(runningStatus, "Failed", context.namespace, now))
    if (status === undefined) return running
    const message = status.message ?? ""
    return {
      ...none,
      keepJob: jobName,
      status,
      holdReady: true,
      failed: true,
      condition: { type: "RestoreCompleted", status: "False", reason: "RestoreFailed", message },
      events: [{ type: "Warning", reason: "RestoreFailed", action: "Restore", message }]
    }
  }
  if (outcome === "Absent" && !input.backendReady) return pending(source.label, "waiting for the backend to be ready")
  const problem = outcome === "Absent" ? restoreLocationProblem(instance, input.observed) : undefined
  if (problem !== undefined) return pending(source.label, problem)
  const rendered = renderRestoreJob(
    jobTargetOf(context),
    source.from,
    standardLabels(context.name, "snapshot", context.images.version),
    context.ownerReferences,
    { annotations: { [attemptAnnotation]: String(attempt) } }
  )
  return {
    ...running,
    keepJob: undefined,
    job: rendered,
    events:
      outcome === "Absent"
        ? [
            {
              type: "Normal",
              reason: "RestoreStarted",
              action: "Restore",
              message: `importing ${source.label} (--replace-all)${ofAttempt}`
            }
          ]
        : []
  }
}
