/**
 * Holding a saga step where it is on the local cluster: a ValidatingAdmissionPolicy (GA, no feature gate) denies
 * creating the pods of the Jobs whose names start with a prefix, in one namespace. Such a Job exists and waits (its
 * controller retries the pod without counting a failure), so the upgrade step it belongs to stays where it is, while
 * the operator renders its Jobs exactly as in production.
 *
 * @module
 */
import { eventually } from "./kube.js"

/** Which Jobs' pods are denied, and the message the denial carries. */
export interface JobPodHold {
  /** The policy's and binding's name (cluster-scoped: make it unique per namespace). */
  readonly name: string
  readonly namespace: string
  /** Jobs whose names start with this. */
  readonly prefix: string
  /** The denial's message (the readiness probe below looks for it). */
  readonly message: string
}

const jobNameLabel = "batch.kubernetes.io/job-name"

/** The policy and its binding. */
export const jobPodHoldManifests = (hold: JobPodHold): ReadonlyArray<Record<string, unknown>> => [
  {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicy",
    metadata: { name: hold.name },
    spec: {
      failurePolicy: "Fail",
      matchConstraints: {
        resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }]
      },
      matchConditions: [
        {
          name: "held-job-pod",
          expression: `has(object.metadata.labels) && '${jobNameLabel}' in object.metadata.labels && object.metadata.labels['${jobNameLabel}'].startsWith('${hold.prefix}')`
        }
      ],
      validations: [{ expression: "false", message: hold.message }]
    }
  },
  {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name: hold.name },
    spec: {
      policyName: hold.name,
      validationActions: ["Deny"],
      matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": hold.namespace } } }
    }
  }
]

/**
 * Applies the hold and returns once the apiserver enforces it: `createDryRun` (a server-side dry-run create of the
 * JSON it is given, throwing the apiserver's refusal) is denied for a pod the hold picks.
 */
export const holdJobPods = async (
  hold: JobPodHold,
  apply: (object: Record<string, unknown>) => void,
  createDryRun: (json: string) => void
) => {
  for (const object of jobPodHoldManifests(hold)) apply(object)
  const probe = JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "hold-probe", namespace: hold.namespace, labels: { [jobNameLabel]: `${hold.prefix}probe` } },
    spec: { containers: [{ name: "probe", image: "registry.example/probe:1" }] }
  })
  await eventually(
    `the policy holding the pods of Jobs ${hold.prefix}* in ${hold.namespace} to apply`,
    () => {
      try {
        createDryRun(probe)
        return undefined
      } catch (error) {
        return String(error).includes(hold.message) ? true : undefined
      }
    },
    { timeoutMillis: 30_000 }
  )
}
