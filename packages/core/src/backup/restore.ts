/**
 * The restore of a new instance (`spec.restore.from`): once the backend is ready, one import Job with
 * `--replace-all`; the instance is not Ready until it succeeded; the result is kept in `status.restore` and a
 * Succeeded restore never runs again (its Job is neither rendered again nor deleted).
 *
 * @module
 */
import type { ConvexInstance, RestoreStatus } from "../api/index.js"
import { jobTargetOf, type RestoreFrom, renderRestoreJob, restoreJobName } from "../render/backup-jobs.js"
import type { RenderContext } from "../render/context.js"
import { standardLabels } from "../render/labels.js"
import type { Job, KubeObject } from "../render/objects.js"
import { type ConditionState, formatTime } from "../status/conditions.js"
import type { DecidedEvent } from "../status/events.js"
import { jobOutcome } from "../status/workloads.js"
import { backupSource } from "../upgrade/backup.js"

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
  if (from?.s3 !== undefined) {
    return { from: { _tag: "s3", location: from.s3 }, label: `s3://${from.s3.bucket}/${from.s3.key}` }
  }
  const name = from?.backup ?? ""
  return backupSource(name, observed("ConvexBackup", name))
}

/** The restore step of `context.instance`. */
export const planRestore = (input: {
  readonly context: RenderContext
  readonly observed: (kind: string, name: string) => KubeObject | undefined
  readonly backendReady: boolean
  readonly now: Date
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
  if (previous?.phase === "Failed") {
    return {
      ...none,
      keepJob: jobName,
      status: previous,
      holdReady: true,
      failed: true,
      condition: { type: "RestoreCompleted", status: "False", reason: "RestoreFailed", message: previous.message ?? "" }
    }
  }
  const source = sourceOf(instance, input.observed)
  const pending = (source: string, message: string): RestorePlan => ({
    ...none,
    status: { phase: "Pending", source, message },
    holdReady: true,
    condition: { type: "RestoreCompleted", status: "False", reason: "Pending", message }
  })
  if ("waiting" in source) return pending(`backup/${instance.spec.restore.from.backup ?? ""}`, source.waiting)
  const job = input.observed("Job", jobName)
  const outcome = jobOutcome(job)
  const started = previous?.startedAt ?? formatTime(now)
  if (outcome === "Succeeded") {
    const status: RestoreStatus = {
      phase: "Succeeded",
      source: source.label,
      job: jobName,
      startedAt: started,
      finishedAt: formatTime(now)
    }
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
          message: `restored from ${source.label} (import --replace-all)`
        }
      ]
    }
  }
  if (outcome === "Failed") {
    const message = `the import Job ${jobName} failed: see kubectl logs job/${jobName} -n ${context.namespace} --all-containers; delete and re-create the instance to try again`
    return {
      ...none,
      keepJob: jobName,
      status: {
        phase: "Failed",
        source: source.label,
        job: jobName,
        startedAt: started,
        finishedAt: formatTime(now),
        message
      },
      holdReady: true,
      failed: true,
      condition: { type: "RestoreCompleted", status: "False", reason: "RestoreFailed", message },
      events: [{ type: "Warning", reason: "RestoreFailed", action: "Restore", message }]
    }
  }
  if (outcome === "Absent" && !input.backendReady) return pending(source.label, "waiting for the backend to be ready")
  const rendered = renderRestoreJob(
    jobTargetOf(context),
    source.from,
    standardLabels(context.name, "snapshot", context.images.version),
    context.ownerReferences
  )
  return {
    ...none,
    job: rendered,
    status: { phase: "Running", source: source.label, job: jobName, startedAt: started },
    holdReady: true,
    condition: {
      type: "RestoreCompleted",
      status: "False",
      reason: "Running",
      message: `importing ${source.label} with --replace-all`
    },
    events:
      outcome === "Absent"
        ? [
            {
              type: "Normal",
              reason: "RestoreStarted",
              action: "Restore",
              message: `importing ${source.label} (--replace-all)`
            }
          ]
        : []
  }
}
