/**
 * A label put on chosen new pods by a MutatingAdmissionPolicy (full clusters), so that a kwok Stage matching that
 * label treats them differently (fails them, keeps them not Ready) while the code under test renders its pods
 * exactly as in production. Used by failing-jobs.ts and never-ready-pods.ts.
 *
 * @module
 */
import { Duration, Effect, Schedule } from "effect"
import { LocalCluster } from "./local-cluster.js"
import type { KubeObject, ObjectError } from "./objects.js"

/** Which new pods get which label. */
export interface PodLabelPolicy {
  /** The policy's (and binding's) name, from {@link podLabelPolicyName}. */
  readonly name: string
  /** Only pods created in this namespace. */
  readonly namespace: string
  /** The CEL match condition that picks the pods. */
  readonly condition: { readonly name: string; readonly expression: string }
  /** The label (and value) put on them. */
  readonly label: string
  readonly value: string
  /** A pod the condition picks, created as a server-side dry run to see whether the policy applies. */
  readonly probe: KubeObject
  /** What the pods are, for error messages. */
  readonly subject: string
}

const admissionVersion = "admissionregistration.k8s.io/v1beta1"

/** A cluster-scoped object name from its parts (lower case, only the characters a name may hold). */
export const podLabelPolicyName = (...parts: ReadonlyArray<string>): string =>
  parts
    .join("-")
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, "-")
    .slice(0, 253)
    .replace(/[.-]+$/, "")

/** The MutatingAdmissionPolicy and its binding. */
export const podLabelPolicyManifests = (policy: PodLabelPolicy): ReadonlyArray<KubeObject> => [
  {
    apiVersion: admissionVersion,
    kind: "MutatingAdmissionPolicy",
    metadata: { name: policy.name },
    spec: {
      matchConstraints: {
        resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }]
      },
      matchConditions: [policy.condition],
      failurePolicy: "Fail",
      reinvocationPolicy: "Never",
      mutations: [
        {
          patchType: "ApplyConfiguration",
          applyConfiguration: {
            expression: `Object{metadata: Object.metadata{labels: {"${policy.label}": "${policy.value}"}}}`
          }
        }
      ]
    }
  },
  {
    apiVersion: admissionVersion,
    kind: "MutatingAdmissionPolicyBinding",
    metadata: { name: policy.name },
    spec: {
      policyName: policy.name,
      matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": policy.namespace } } }
    }
  }
]

/** Whether a pod the policy picks, created now, gets the label (a server-side dry run: nothing is stored). */
const probeLabelled = (policy: PodLabelPolicy) =>
  Effect.gen(function* () {
    const { objects } = yield* LocalCluster
    const probe = yield* objects.create(policy.probe, { dryRun: true })
    const labels = (probe.metadata as { labels?: Record<string, string> }).labels ?? {}
    return labels[policy.label] === policy.value
  })

const until = (policy: PodLabelPolicy, labelled: boolean, what: string) =>
  probeLabelled(policy).pipe(
    Effect.filterOrFail(
      (actual) => actual === labelled,
      () => new Error(`${what}: a dry-run pod of ${policy.subject} is not as expected`)
    ),
    Effect.retry(Schedule.spaced(Duration.millis(100)).pipe(Schedule.upTo(Duration.seconds(30)))),
    Effect.asVoid
  )

/**
 * Labels the pods the policy picks from now on, until `stop` runs. Returns once the apiserver applies the policy
 * (checked with a dry-run pod); `stop` returns once it no longer does. `what` names the policy in error messages.
 */
export const applyPodLabelPolicy = (
  policy: PodLabelPolicy,
  what: string
): Effect.Effect<
  { readonly stop: Effect.Effect<void, ObjectError | Error, LocalCluster> },
  ObjectError | Error,
  LocalCluster
> =>
  Effect.gen(function* () {
    const manifests = podLabelPolicyManifests(policy)
    const { objects } = yield* LocalCluster
    for (const manifest of manifests) yield* objects.apply(manifest)
    yield* until(policy, true, `the ${what} policy to apply`)
    const stop = Effect.gen(function* () {
      const { objects } = yield* LocalCluster
      for (const manifest of [...manifests].reverse()) yield* objects.remove(manifest, manifest.metadata.name ?? "")
      yield* until(policy, false, `the ${what} policy to go away`)
    })
    return { stop }
  })
