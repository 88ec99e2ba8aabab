/**
 * Failing Jobs on purpose (full clusters): kwok runs every Job pod to Succeeded, except pods labelled
 * {@link failedJobPodLabel}`=Failed`, which its Stage `job-pod-failed` (stages/job-pod-failed.yaml) ends as a
 * container that exited 1 (phase Failed). {@link failJobPods} puts that label on the pods of chosen Jobs as they
 * are created, with a MutatingAdmissionPolicy, so that the code under test renders its Jobs exactly as in
 * production and nothing in it knows about tests. Removing the policy makes the next pods succeed again.
 *
 * @module
 */
import type { Effect } from "effect"
import type { LocalCluster } from "./local-cluster.js"
import type { KubeObject, ObjectError } from "./objects.js"
import {
  applyPodLabelPolicy,
  type PodLabelPolicy,
  podLabelPolicyManifests,
  podLabelPolicyName
} from "./pod-label-policy.js"

/** The pod label kwok's `job-pod-failed` Stage fails Job pods by (value `Failed`). */
export const failedJobPodLabel = "test.convex.icod.de/job-pod-outcome"

/** Which Jobs to fail: those in `namespace` whose name starts with `jobNamePrefix`. */
export interface FailingJobs {
  readonly namespace: string
  readonly jobNamePrefix: string
}

const jobNameLabel = "batch.kubernetes.io/job-name"

/** The policy's (and binding's) name: cluster-scoped, so it carries the namespace and prefix. */
export const failingJobsPolicyName = (jobs: FailingJobs): string =>
  podLabelPolicyName("fail-job-pods", jobs.namespace, jobs.jobNamePrefix)

const policy = (jobs: FailingJobs): PodLabelPolicy => ({
  name: failingJobsPolicyName(jobs),
  namespace: jobs.namespace,
  condition: {
    name: "job-name-prefix",
    expression: `has(object.metadata.labels) && '${jobNameLabel}' in object.metadata.labels && object.metadata.labels['${jobNameLabel}'].startsWith(${JSON.stringify(jobs.jobNamePrefix)})`
  },
  label: failedJobPodLabel,
  value: "Failed",
  probe: {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "failing-jobs-probe",
      namespace: jobs.namespace,
      labels: { [jobNameLabel]: `${jobs.jobNamePrefix}probe` }
    },
    spec: { containers: [{ name: "probe", image: "probe" }] }
  },
  subject: `Job ${jobs.namespace}/${jobs.jobNamePrefix}…`
})

/** A MutatingAdmissionPolicy and its binding that label new pods of the chosen Jobs with {@link failedJobPodLabel}. */
export const failingJobsManifests = (jobs: FailingJobs): ReadonlyArray<KubeObject> =>
  podLabelPolicyManifests(policy(jobs))

/**
 * Makes every pod of the chosen Jobs created from now on fail, until `stop` runs. Returns once the apiserver
 * applies the policy (checked with a dry-run pod); `stop` returns once it no longer does.
 */
export const failJobPods = (
  jobs: FailingJobs
): Effect.Effect<
  { readonly stop: Effect.Effect<void, ObjectError | Error, LocalCluster> },
  ObjectError | Error,
  LocalCluster
> => applyPodLabelPolicy(policy(jobs), "failing-jobs")
