/**
 * Pods that never become Ready on purpose (full clusters): kwok makes every pod Ready, except pods labelled
 * {@link neverReadyPodLabel}`=Never`, which its Stage `pod-never-ready` (stages/pod-never-ready.yaml) runs with
 * containers that never become ready, like a backend whose readiness probe never passes. {@link holdPodsNotReady}
 * puts that label on new pods in a namespace that run a chosen image, with a MutatingAdmissionPolicy, so that the
 * code under test renders its workloads exactly as in production. Removing the policy makes new pods Ready again.
 *
 * @module
 */
import { Duration, Effect, Schedule } from "effect"
import { LocalCluster } from "./local-cluster.js"
import type { KubeObject, ObjectError } from "./objects.js"

/** The pod label kwok's `pod-never-ready` Stage keeps pods not Ready by (value `Never`). */
export const neverReadyPodLabel = "test.convex.icod.de/pod-ready"

/** Which pods never become Ready: new pods in `namespace` with a container running exactly `image`. */
export interface NeverReadyPods {
  readonly namespace: string
  readonly image: string
}

const admissionVersion = "admissionregistration.k8s.io/v1beta1"

/** The policy's (and binding's) name: cluster-scoped, so it carries the namespace and image. */
export const neverReadyPolicyName = (pods: NeverReadyPods): string =>
  `never-ready-${pods.namespace}-${pods.image}`
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, "-")
    .slice(0, 253)
    .replace(/[.-]+$/, "")

/** A MutatingAdmissionPolicy and its binding that label new pods of the image with {@link neverReadyPodLabel}. */
export const neverReadyManifests = (pods: NeverReadyPods): ReadonlyArray<KubeObject> => {
  const name = neverReadyPolicyName(pods)
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
          { name: "image", expression: `object.spec.containers.exists(c, c.image == ${JSON.stringify(pods.image)})` }
        ],
        failurePolicy: "Fail",
        reinvocationPolicy: "Never",
        mutations: [
          {
            patchType: "ApplyConfiguration",
            applyConfiguration: {
              expression: `Object{metadata: Object.metadata{labels: {"${neverReadyPodLabel}": "Never"}}}`
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
        matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": pods.namespace } } }
      }
    }
  ]
}

/** Whether a pod of the image created now gets the label (a server-side dry run: nothing is stored). */
const probeLabelled = (pods: NeverReadyPods) =>
  Effect.gen(function* () {
    const { objects } = yield* LocalCluster
    const probe = yield* objects.create(
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "never-ready-probe", namespace: pods.namespace },
        spec: { containers: [{ name: "probe", image: pods.image }] }
      },
      { dryRun: true }
    )
    const labels = (probe.metadata as { labels?: Record<string, string> }).labels ?? {}
    return labels[neverReadyPodLabel] === "Never"
  })

const until = (pods: NeverReadyPods, labelled: boolean, what: string) =>
  probeLabelled(pods).pipe(
    Effect.filterOrFail(
      (actual) => actual === labelled,
      () => new Error(`${what}: a dry-run pod of ${pods.namespace}/${pods.image} is not as expected`)
    ),
    Effect.retry(Schedule.spaced(Duration.millis(100)).pipe(Schedule.upTo(Duration.seconds(30)))),
    Effect.asVoid
  )

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
> =>
  Effect.gen(function* () {
    const { objects } = yield* LocalCluster
    for (const manifest of neverReadyManifests(pods)) yield* objects.apply(manifest)
    yield* until(pods, true, "the never-ready policy to apply")
    const stop = Effect.gen(function* () {
      const { objects } = yield* LocalCluster
      for (const manifest of [...neverReadyManifests(pods)].reverse()) {
        yield* objects.remove(manifest, manifest.metadata.name ?? "")
      }
      yield* until(pods, false, "the never-ready policy to go away")
    })
    return { stop }
  })
