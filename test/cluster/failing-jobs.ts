/**
 * Failing Jobs on purpose (full clusters): kwok runs every Job pod to Succeeded, except pods labelled
 * {@link failedJobPodLabel}`=Failed`, which its Stage `job-pod-failed` (stages/job-pod-failed.yaml) ends as a
 * container that exited 1 (phase Failed). {@link failJobPods} puts that label on the pods of chosen Jobs as they
 * are created, with a MutatingAdmissionPolicy, so that the code under test renders its Jobs exactly as in
 * production and nothing in it knows about tests. Removing the policy makes the next pods succeed again.
 *
 * @module
 */
import { Duration, Effect, Schedule } from "effect"
import { LocalCluster } from "./local-cluster.js"
import type { KubeObject, ObjectError } from "./objects.js"

/** The pod label kwok's `job-pod-failed` Stage fails Job pods by (value `Failed`). */
export const failedJobPodLabel = "test.convex.icod.de/job-pod-outcome"

/** Which Jobs to fail: those in `namespace` whose name starts with `jobNamePrefix`. */
export interface FailingJobs {
  readonly namespace: string
  readonly jobNamePrefix: string
}

const admissionVersion = "admissionregistration.k8s.io/v1beta1"
const jobNameLabel = "batch.kubernetes.io/job-name"

/** The policy's (and binding's) name: cluster-scoped, so it carries the namespace and prefix. */
export const failingJobsPolicyName = (jobs: FailingJobs): string =>
  `fail-job-pods-${jobs.namespace}-${jobs.jobNamePrefix}`
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, "-")
    .slice(0, 253)
    .replace(/[.-]+$/, "")

/** A MutatingAdmissionPolicy and its binding that label new pods of the chosen Jobs with {@link failedJobPodLabel}. */
export const failingJobsManifests = (jobs: FailingJobs): ReadonlyArray<KubeObject> => {
  const name = failingJobsPolicyName(jobs)
  const prefix = JSON.stringify(jobs.jobNamePrefix)
  return [
    {
      apiVersion: admissionVersion,
      kind: "MutatingAdmissionPolicy",
      metadata: { name },
      spec: {
        matchConstraints: {
          resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }]
        },
        matchConditions: [
          {
            name: "job-name-prefix",
            expression: `has(object.metadata.labels) && '${jobNameLabel}' in object.metadata.labels && object.metadata.labels['${jobNameLabel}'].startsWith(${prefix})`
          }
        ],
        failurePolicy: "Fail",
        reinvocationPolicy: "Never",
        mutations: [
          {
            patchType: "ApplyConfiguration",
            applyConfiguration: {
              expression: `Object{metadata: Object.metadata{labels: {"${failedJobPodLabel}": "Failed"}}}`
            }
          }
        ]
      }
    },
    {
      apiVersion: admissionVersion,
      kind: "MutatingAdmissionPolicyBinding",
      metadata: { name },
      spec: {
        policyName: name,
        matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": jobs.namespace } } }
      }
    }
  ]
}

/** Whether a pod of a chosen Job created now gets the label (a server-side dry run: nothing is stored). */
const probeLabelled = (jobs: FailingJobs) =>
  Effect.gen(function* () {
    const { objects } = yield* LocalCluster
    const probe = yield* objects.create(
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: "failing-jobs-probe",
          namespace: jobs.namespace,
          labels: { [jobNameLabel]: `${jobs.jobNamePrefix}probe` }
        },
        spec: { containers: [{ name: "probe", image: "probe" }] }
      },
      { dryRun: true }
    )
    const labels = (probe.metadata as { labels?: Record<string, string> }).labels ?? {}
    return labels[failedJobPodLabel] === "Failed"
  })

const until = (jobs: FailingJobs, labelled: boolean, what: string) =>
  probeLabelled(jobs).pipe(
    Effect.filterOrFail(
      (actual) => actual === labelled,
      () => new Error(`${what}: a dry-run pod of Job ${jobs.namespace}/${jobs.jobNamePrefix}… is not as expected`)
    ),
    Effect.retry(Schedule.spaced(Duration.millis(100)).pipe(Schedule.upTo(Duration.seconds(30)))),
    Effect.asVoid
  )

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
> =>
  Effect.gen(function* () {
    const { objects } = yield* LocalCluster
    for (const manifest of failingJobsManifests(jobs)) yield* objects.apply(manifest)
    yield* until(jobs, true, "the failing-jobs policy to apply")
    const stop = Effect.gen(function* () {
      const { objects } = yield* LocalCluster
      for (const manifest of [...failingJobsManifests(jobs)].reverse()) {
        yield* objects.remove(manifest, manifest.metadata.name ?? "")
      }
      yield* until(jobs, false, "the failing-jobs policy to go away")
    })
    return { stop }
  })
