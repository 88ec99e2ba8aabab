/**
 * A fleet burst with no client-side rate limit against a real apiserver whose API Priority and Fairness gives the
 * controller's user almost nothing: a PriorityLevelConfiguration with one concurrency share that rejects (429, with
 * Retry-After) what it cannot seat at once, and a FlowSchema sending the controller's ServiceAccount there. Every
 * object still converges, some requests were rejected, and the retries waited instead of storming.
 */
import { Action, Controller, KubeClient, type KubeError, type KubeObject, Resource } from "@convex-operator/k8s"
import { expect, layer } from "@effect/vitest"
import { Clock, Context, Effect, Layer, Logger, LogLevel, Schedule } from "effect"
import { LocalCluster } from "../../cluster/local-cluster.js"
import { clusterLayerOptions } from "../support.js"
import { gizmoCrd, liveClient } from "./support.js"

const ns = "default"
const fleet = 200
/** Writes one reconcile of a new object needs: its ConfigMap, and its status. */
const writesPerObject = 2
const level = "apf-burst-test"
const account = "apf-burst"

const Gizmo = Resource.make({
  group: "k8s.convex-operator.test",
  version: "v1",
  kind: "Gizmo",
  plural: "gizmos",
  namespaced: true
})
const ServiceAccount = Resource.make({
  group: "",
  version: "v1",
  kind: "ServiceAccount",
  plural: "serviceaccounts",
  namespaced: true
})
const ClusterRoleBinding = Resource.make({
  group: "rbac.authorization.k8s.io",
  version: "v1",
  kind: "ClusterRoleBinding",
  plural: "clusterrolebindings",
  namespaced: false
})
const flowcontrol = (kind: string, plural: string) =>
  Resource.make({ group: "flowcontrol.apiserver.k8s.io", version: "v1", kind, plural, namespaced: false })
const PriorityLevelConfiguration = flowcontrol("PriorityLevelConfiguration", "prioritylevelconfigurations")
const FlowSchema = flowcontrol("FlowSchema", "flowschemas")

const object = (resource: Resource.Resource, metadata: KubeObject["metadata"], rest: object): KubeObject =>
  ({ apiVersion: resource.apiVersion, kind: resource.kind, metadata, ...rest }) as KubeObject

/**
 * The controller's reconcile: one ConfigMap per object (unless the cache holds it already), then the status
 * records the generation (unless it does already): two writes per object, none at rest.
 */
const reconcile = (gizmo: KubeObject, context: Controller.ReconcileContext<KubeObject>) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const { name = "", generation } = gizmo.metadata
    const owned = yield* context.owned(Resource.ConfigMap)
    if (owned.length === 0)
      yield* kube.apply(
        Resource.ConfigMap,
        object(
          Resource.ConfigMap,
          { name: `${name}-config`, namespace: ns, ownerReferences: [Resource.ownerReference(gizmo)] },
          { data: { gizmo: name } }
        ),
        { fieldManager: "apf-burst", force: true }
      )
    if ((gizmo.status as { observedGeneration?: number } | undefined)?.observedGeneration !== generation) {
      yield* kube.patchStatus(Gizmo, name, { observedGeneration: generation }, { namespace: ns })
    }
    return Action.awaitChange
  })

/** Counts the 429s the client saw, and their Retry-After, on the way to the caller. */
const counting = (kube: KubeClient["Type"], waits: Array<number | undefined>): KubeClient["Type"] => {
  const seen = <A, R>(effect: Effect.Effect<A, KubeError, R>) =>
    Effect.tapError(effect, (error) =>
      Effect.sync(() => {
        if (error._tag === "ApiError" && error.code === 429) waits.push(error.retryAfterMillis)
      })
    )
  return {
    ...kube,
    get: (resource, name, options) => seen(kube.get(resource, name, options)),
    list: (resource, options) => seen(kube.list(resource, options)),
    apply: (resource, object, options) => seen(kube.apply(resource, object, options)),
    patchStatus: (resource, name, status, options) => seen(kube.patchStatus(resource, name, status, options))
  }
}

/** Sums the samples of a Prometheus counter whose labels include `priority_level="<level>"`. */
const counter = (metrics: string, name: string) =>
  metrics
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) && line.includes(`priority_level="${level}"`))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0)

layer(Layer.provideMerge(liveClient(), LocalCluster.layer({ components: "apiserver", crds: [gizmoCrd] })), {
  ...clusterLayerOptions
})("a fleet burst under a tight API Priority and Fairness configuration", (it) => {
  it.scoped(
    `${fleet} objects converge through 429s with Retry-After, without a retry storm`,
    () =>
      Effect.gen(function* () {
        const cluster = yield* LocalCluster
        const admin = yield* KubeClient // system:masters: the exempt priority level, never throttled
        yield* admin.create(ServiceAccount, object(ServiceAccount, { name: account, namespace: ns }, {}))
        yield* admin.create(
          ClusterRoleBinding,
          object(
            ClusterRoleBinding,
            { name: account },
            {
              roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
              subjects: [{ kind: "ServiceAccount", name: account, namespace: ns }]
            }
          )
        )
        // One share of the server's concurrency (a few seats), nothing lent or borrowed, no queue: what cannot be
        // seated at once is rejected with 429.
        yield* admin.create(
          PriorityLevelConfiguration,
          object(
            PriorityLevelConfiguration,
            { name: level },
            {
              spec: {
                type: "Limited",
                limited: {
                  nominalConcurrencyShares: 1,
                  lendablePercent: 0,
                  borrowingLimitPercent: 0,
                  limitResponse: { type: "Reject" }
                }
              }
            }
          )
        )
        yield* admin.create(
          FlowSchema,
          object(
            FlowSchema,
            { name: level },
            {
              spec: {
                priorityLevelConfiguration: { name: level },
                matchingPrecedence: 100,
                distinguisherMethod: { type: "ByUser" },
                rules: [
                  {
                    subjects: [{ kind: "ServiceAccount", serviceAccount: { name: account, namespace: ns } }],
                    resourceRules: [
                      {
                        verbs: ["*"],
                        apiGroups: ["*"],
                        resources: ["*"],
                        namespaces: ["*"],
                        clusterScope: true
                      }
                    ],
                    nonResourceRules: [{ verbs: ["*"], nonResourceURLs: ["*"] }]
                  }
                ]
              }
            }
          )
        )
        const minted = yield* cluster.http.request({
          method: "POST",
          path: `/api/v1/namespaces/${ns}/serviceaccounts/${account}/token`,
          body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } }
        })
        const token = (minted.body as { status?: { token?: string } } | undefined)?.status?.token
        if (token === undefined) throw new Error(`no token: ${minted.status} ${minted.text}`)

        // The fleet exists before the controller starts: its first list holds every object at once.
        yield* Effect.forEach(
          Array.from({ length: fleet }, (_, i) => `g${i}`),
          (name) => admin.create(Gizmo, object(Gizmo, { name, namespace: ns }, { spec: {} })),
          { concurrency: 16 }
        )
        const metrics = Effect.map(
          cluster.http.request({ method: "GET", path: "/metrics", accept: "text/plain" }),
          (r) => ({
            rejected: counter(r.text, "apiserver_flowcontrol_rejected_requests_total"),
            dispatched: counter(r.text, "apiserver_flowcontrol_dispatched_requests_total")
          })
        )
        const before = yield* metrics
        expect(before).toEqual({ rejected: 0, dispatched: 0 })

        // The controller as the ServiceAccount, without a client-side rate limit (the operator's default).
        const waits: Array<number | undefined> = []
        const live = Context.get(
          yield* Layer.build(
            KubeClient.layerLive({
              source: { _tag: "Explicit", server: cluster.server, ca: cluster.ca, token },
              rateLimit: false
            })
          ),
          KubeClient
        )
        const controllerClient = counting(live, waits)
        const started = yield* Clock.currentTimeMillis
        yield* Controller.make({
          name: "apf-burst",
          resource: Gizmo,
          owns: [{ resource: Resource.ConfigMap }],
          // The operator's default: 4 reconciles at once, each sending up to 4 requests at once.
          concurrency: 16,
          reconcile
        }).pipe(
          Effect.provideService(KubeClient, controllerClient),
          // Each rejected reconcile logs a warning with its cause: the counts below say the same.
          Logger.withMinimumLogLevel(LogLevel.Error)
        )

        const converged = Effect.gen(function* () {
          const gizmos = (yield* admin.list(Gizmo, { namespace: ns })).items
          const done = gizmos.filter(
            (g) => (g.status as { observedGeneration?: number } | undefined)?.observedGeneration === 1
          ).length
          const configMaps = (yield* admin.list(Resource.ConfigMap, { namespace: ns })).items.filter((c) =>
            c.metadata.name?.endsWith("-config")
          ).length
          if (done < fleet || configMaps < fleet)
            return yield* Effect.fail(`${done} statuses, ${configMaps} ConfigMaps`)
        })
        yield* converged.pipe(Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("120 seconds"))))
        const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
        const after = yield* metrics
        const needed = fleet * writesPerObject
        const total = after.rejected + after.dispatched
        yield* Effect.sync(() =>
          console.log(
            `APF burst: ${fleet} objects converged in ${seconds.toFixed(1)} s; the controller's user sent ${total} requests (${after.dispatched} served, ${after.rejected} rejected with 429) for ${needed} needed writes; the client saw ${waits.length} 429s, Retry-After ${[...new Set(waits)].join(", ")} ms`
          )
        )
        expect(after.rejected).toBeGreaterThan(0)
        // Every rejection the reconciles saw asked for a wait (the watches' lists and watches are the rest).
        expect(waits.length).toBeGreaterThan(0)
        expect(waits.length).toBeLessThanOrEqual(after.rejected)
        expect(waits.every((wait) => wait !== undefined && wait >= 1000)).toBe(true)
        expect(total).toBeLessThan(3 * needed)
      }),
    180_000
  )
})
