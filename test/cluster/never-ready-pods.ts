/**
 * Pods that never become Ready on purpose (full clusters): kwok makes every pod Ready, except pods labelled
 * {@link neverReadyPodLabel}`=Never`, which its Stage `pod-never-ready` (stages/pod-never-ready.yaml) runs with
 * containers that never become ready, like a backend whose readiness probe never passes. {@link holdPodsNotReady}
 * puts that label on new pods in a namespace that run a chosen image, with a MutatingAdmissionPolicy, so that the
 * code under test renders its workloads exactly as in production. Removing the policy makes new pods Ready again.
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

/** The pod label kwok's `pod-never-ready` Stage keeps pods not Ready by (value `Never`). */
export const neverReadyPodLabel = "test.convex.icod.de/pod-ready"

/** Which pods never become Ready: new pods in `namespace` with a container running exactly `image`. */
export interface NeverReadyPods {
  readonly namespace: string
  readonly image: string
}

/** The policy's (and binding's) name: cluster-scoped, so it carries the namespace and image. */
export const neverReadyPolicyName = (pods: NeverReadyPods): string =>
  podLabelPolicyName("never-ready", pods.namespace, pods.image)

const policy = (pods: NeverReadyPods): PodLabelPolicy => ({
  name: neverReadyPolicyName(pods),
  namespace: pods.namespace,
  condition: {
    name: "image",
    expression: `object.spec.containers.exists(c, c.image == ${JSON.stringify(pods.image)})`
  },
  label: neverReadyPodLabel,
  value: "Never",
  probe: {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "never-ready-probe", namespace: pods.namespace },
    spec: { containers: [{ name: "probe", image: pods.image }] }
  },
  subject: `${pods.namespace}/${pods.image}`
})

/** A MutatingAdmissionPolicy and its binding that label new pods of the image with {@link neverReadyPodLabel}. */
export const neverReadyManifests = (pods: NeverReadyPods): ReadonlyArray<KubeObject> =>
  podLabelPolicyManifests(policy(pods))

/**
 * Keeps every pod of the image created from now on not Ready, until `stop` runs. Returns once the apiserver
 * applies the policy (checked with a dry-run pod); `stop` returns once it no longer does.
 */
export const holdPodsNotReady = (
  pods: NeverReadyPods
): Effect.Effect<
  { readonly stop: Effect.Effect<void, ObjectError | Error, LocalCluster> },
  ObjectError | Error,
  LocalCluster
> => applyPodLabelPolicy(policy(pods), "never-ready")
