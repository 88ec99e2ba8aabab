/**
 * Readiness of observed workloads (StatefulSet, Deployment) and Jobs, read from their status. Status is decoded
 * with a Schema: a field of the wrong type counts as absent.
 *
 * @module
 */
import { Option, Schema } from "effect"
import type { KubeObject } from "../../render/objects.js"

const Count = Schema.optionalWith(Schema.Number, { exact: true })

const WorkloadStatus = Schema.Struct({
  observedGeneration: Count,
  replicas: Count,
  readyReplicas: Count,
  updatedReplicas: Count,
  availableReplicas: Count,
  currentRevision: Schema.optionalWith(Schema.String, { exact: true }),
  updateRevision: Schema.optionalWith(Schema.String, { exact: true })
})

const JobStatus = Schema.Struct({
  succeeded: Count,
  failed: Count,
  conditions: Schema.optionalWith(Schema.Array(Schema.Struct({ type: Schema.String, status: Schema.String })), {
    exact: true
  })
})

const decodeWorkload = Schema.decodeUnknownOption(WorkloadStatus)
const decodeJob = Schema.decodeUnknownOption(JobStatus)

/** How far a workload is. */
export interface Readiness {
  readonly ready: boolean
  /** What it waits for, when not ready (names counts, never values). */
  readonly message: string
}

const generationSeen = (object: KubeObject, observedGeneration: number | undefined): boolean =>
  object.metadata.generation === undefined || (observedGeneration ?? 0) >= object.metadata.generation

/**
 * The message of a backend that is coming up. One message from the StatefulSet's creation until its pod is ready:
 * each step in between (the controller seeing the spec, the pod created, running, not yet answering its probe) would
 * otherwise be a status write of every new instance, and none of them asks anything of the user.
 */
const backendComingUp = "waiting for the backend pod to become ready (its readiness probe is GET /version)"

/** Readiness of the backend StatefulSet: its current generation rolled out and its one pod ready. */
export const statefulSetReadiness = (object: KubeObject | undefined): Readiness => {
  if (object === undefined) return { ready: false, message: "the StatefulSet does not exist yet" }
  const status = Option.getOrElse(decodeWorkload(object.status ?? {}), () => ({}) as typeof WorkloadStatus.Type)
  // Never observed: a StatefulSet just created.
  if (status.observedGeneration === undefined) return { ready: false, message: backendComingUp }
  if (
    !generationSeen(object, status.observedGeneration) ||
    (status.updateRevision !== undefined && status.currentRevision !== status.updateRevision)
  ) {
    return { ready: false, message: "the backend pod is being replaced by the new revision" }
  }
  // Without revisions in its status, only an updated replica says the latest template runs.
  if ((status.updatedReplicas ?? 0) < 1 && status.updateRevision === undefined) {
    return { ready: false, message: backendComingUp }
  }
  if ((status.readyReplicas ?? 0) < 1) return { ready: false, message: backendComingUp }
  return { ready: true, message: "the backend pod is ready" }
}

/**
 * Readiness of a Deployment of `replicas` pods: the latest generation rolled out and every pod available. Until
 * its controller has seen the latest generation, none of its pods counts as updated (one message, not a status
 * write more).
 */
export const deploymentReadiness = (object: KubeObject | undefined, replicas: number): Readiness => {
  if (object === undefined) return { ready: false, message: "the Deployment does not exist yet" }
  const status = Option.getOrElse(decodeWorkload(object.status ?? {}), () => ({}) as typeof WorkloadStatus.Type)
  if (!generationSeen(object, status.observedGeneration)) {
    return { ready: false, message: `0 of ${replicas} pods updated and available` }
  }
  const updated = status.updatedReplicas ?? 0
  const available = status.availableReplicas ?? 0
  if (updated < replicas || available < replicas || (status.replicas ?? 0) > updated) {
    return { ready: false, message: `${Math.min(updated, available)} of ${replicas} pods updated and available` }
  }
  return { ready: true, message: `${replicas} of ${replicas} pods available` }
}

/** Where a Job is. */
export type JobOutcome = "Absent" | "Running" | "Succeeded" | "Failed"

/** The outcome of an observed Job. */
export const jobOutcome = (object: KubeObject | undefined): JobOutcome => {
  if (object === undefined) return "Absent"
  const status = Option.getOrUndefined(decodeJob(object.status ?? {}))
  const condition = (type: string) => status?.conditions?.some((c) => c.type === type && c.status === "True") === true
  if (condition("Complete") || (status?.succeeded ?? 0) > 0) return "Succeeded"
  if (condition("Failed")) return "Failed"
  return "Running"
}
