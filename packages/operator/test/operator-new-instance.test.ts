/**
 * A new instance through the whole operator on the in-memory apiserver: the reconcile after the first one can run
 * before the watch events of what the first one wrote have arrived. The generated Secret must still be kept (never a
 * second instance secret or admin key) and the backend applied once (no second roll of a pod that just started).
 */
import { KubeClient, type KubeObject, RecordedEvents, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { finalizerName } from "../src/controllers/instance/finalizer.js"
import { ConvexInstances } from "../src/shell/resources.js"
import {
  createInstance,
  layers,
  namespace,
  requestCount,
  requestsSince,
  runOperator,
  settle,
  untilBackend,
  untilReady,
  wholeOperatorTimeout,
  writesOf
} from "./support/operator-harness.js"

const stored = (resource: Resource.Resource<KubeObject>, name: string) =>
  Effect.flatMap(KubeClient, (kube) => kube.get(resource, name, { namespace }))

/** The operator started, then the instance `demo` with `spec` created and reconciled until its backend exists. */
const createdUntilBackend = (spec: Record<string, unknown>) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(Date.parse("2026-03-01T00:00:00Z"))
    yield* runOperator([])
    yield* settle
    const from = yield* requestCount
    yield* createInstance("demo", spec)
    yield* untilBackend("demo")
    yield* settle
    return from
  })

describe("a new instance", () => {
  it.scoped(
    "keeps the Secret its first reconcile generated and applies the backend once",
    () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(Date.parse("2026-03-01T00:00:00Z"))
        yield* runOperator([])
        yield* createInstance("demo", {})
        yield* untilBackend("demo")
        const secret = yield* stored(Resource.Secret, "demo-convex-secrets")
        yield* settle
        yield* untilReady("demo")
        yield* settle
        const after = yield* stored(Resource.Secret, "demo-convex-secrets")
        expect(after.metadata.resourceVersion).toBe(secret.metadata.resourceVersion)
        expect(after.data).toEqual(secret.data)
        expect((yield* stored(Resource.StatefulSet, "demo-backend")).metadata.generation).toBe(1)
      }).pipe(Effect.provide(layers)),
    wholeOperatorTimeout
  )

  it.scoped(
    "costs one write per child, two status writes and two events until Ready",
    () =>
      Effect.gen(function* () {
        const from = yield* createdUntilBackend({ dashboard: { enabled: true } })
        yield* untilReady("demo")
        yield* settle
        // The operator's writes (the test's own are the create, and the workload status it plays).
        const writes = writesOf(yield* requestsSince(from)).filter(
          (request) => !/^(POST convexinstances|PATCH statefulsets|PATCH deployments) /.test(request)
        )
        // No finalizer: the claim is retained (the default deletionPolicy), so nothing needs cleaning up after it.
        expect(writes.sort()).toEqual(
          [
            `APPLY configmaps ${namespace}/demo-backend-config`,
            `APPLY secrets ${namespace}/demo-convex-secrets`,
            `APPLY persistentvolumeclaims ${namespace}/demo-backend-pvc`,
            `APPLY services ${namespace}/demo-backend`,
            `APPLY services ${namespace}/demo-backend-headless`,
            `APPLY services ${namespace}/demo-dashboard`,
            `APPLY statefulsets ${namespace}/demo-backend`,
            `APPLY deployments ${namespace}/demo-dashboard`,
            // The status: every child in place and waiting for the backend, then Ready.
            `APPLY convexinstances ${namespace}/demo`,
            `APPLY convexinstances ${namespace}/demo`
          ].sort()
        )
        const events = yield* yield* RecordedEvents
        expect(events.map((event) => event.reason)).toEqual(["Ready"])
      }).pipe(Effect.provide(layers)),
    wholeOperatorTimeout
  )

  it.scoped(
    "whose data claim goes with it gets the finalizer before its first child, and only then",
    () =>
      Effect.gen(function* () {
        const from = yield* createdUntilBackend({ backend: { storage: { pvc: { deletionPolicy: "Delete" } } } })
        const writes = writesOf(yield* requestsSince(from)).filter((request) => !request.startsWith("POST "))
        expect(writes[0]).toBe(`PATCH convexinstances ${namespace}/demo`)
        expect(writes.filter((request) => request.startsWith("PATCH convexinstances"))).toHaveLength(1)
        expect((yield* stored(ConvexInstances, "demo")).metadata.finalizers).toEqual([finalizerName])

        // Back to Retain: the finalizer stays (removing it would be a write for nothing; its cleanup keeps the claim).
        const kube = yield* KubeClient
        yield* kube.patch(
          ConvexInstances,
          "demo",
          { spec: { backend: { storage: { pvc: { deletionPolicy: "Retain" } } } } },
          { namespace, type: "merge" }
        )
        yield* settle
        expect((yield* stored(ConvexInstances, "demo")).metadata.finalizers).toEqual([finalizerName])
      }).pipe(Effect.provide(layers)),
    wholeOperatorTimeout
  )
})
