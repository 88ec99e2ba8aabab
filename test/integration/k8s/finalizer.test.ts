/**
 * A Controller scoped to two namespaces, reconciling through Finalizer.run, against a real apiserver: the
 * finalizer's merge patches and their resourceVersion preconditions, and an optional kind whose CRD is missing.
 */

import { Action, Controller, Finalizer, KubeClient, type KubeObject, Resource } from "@convex-operator/k8s"
import { expect, layer } from "@effect/vitest"
import { Effect, Either, Layer, Ref, Schedule } from "effect"
import { Gizmo } from "../../../packages/k8s/test/contract/harness.js"
import { LocalCluster } from "../../cluster/local-cluster.js"
import { clusterLayerOptions } from "../support.js"
import { gizmoCrd, liveClient } from "./support.js"

const eventually = <A, E, R>(check: Effect.Effect<A, E, R>) =>
  check.pipe(Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("20 seconds"))))
const finalizer = "k8s.convex-operator.test/cleanup"
const namespaces = ["fin-a", "fin-b", "fin-c"]
/** A kind no CRD defines on this cluster. */
const Widgets = Resource.make({
  group: "k8s.convex-operator.test",
  version: "v1",
  kind: "Widget",
  plural: "widgets",
  namespaced: true
})
const gizmo = (namespace: string): KubeObject => ({
  apiVersion: Gizmo.apiVersion,
  kind: Gizmo.kind,
  metadata: { name: "g", namespace },
  spec: {}
})

layer(
  Layer.provideMerge(liveClient(), LocalCluster.layer({ components: "apiserver", crds: [gizmoCrd] })),
  clusterLayerOptions
)("Finalizer.run in a namespace-scoped Controller against a real apiserver", (it) => {
  it.scoped("adds the finalizer in watched namespaces only, cleans up on deletion, refuses stale objects", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      for (const name of namespaces) {
        yield* kube
          .create(Resource.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name } })
          .pipe(Effect.catchTag("Conflict", () => Effect.void))
      }
      const cleaned = yield* Ref.make<ReadonlyArray<string>>([])
      const options = { resource: Gizmo, fieldManager: "gizmo-controller" }
      const controller = yield* Controller.make({
        name: "finalizing",
        resource: Gizmo,
        namespaces: ["fin-a", "fin-b"],
        watches: [{ resource: Widgets, map: () => [], optional: { recheck: "1 hour" } }],
        reconcile: (object, ctx) =>
          Finalizer.run(
            finalizer,
            object,
            {
              apply: () => Effect.succeed(Action.awaitChange),
              cleanup: () => Ref.update(cleaned, (c) => [...c, ctx.key])
            },
            options
          )
      })
      yield* controller.ready
      // The real apiserver answers NotFound for a kind without a CRD: not served, and readiness does not wait.
      expect(controller.isServed(Widgets)).toBe(false)
      expect(yield* controller.isReady).toBe(true)

      for (const namespace of namespaces) yield* kube.create(Gizmo, gizmo(namespace))
      const finalizers = (namespace: string) =>
        Effect.map(kube.get(Gizmo, "g", { namespace }), (g) => g.metadata.finalizers ?? [])
      for (const namespace of ["fin-a", "fin-b"]) {
        yield* eventually(
          Effect.flatMap(finalizers(namespace), (f) => (f.includes(finalizer) ? Effect.void : Effect.fail(f)))
        )
      }
      expect(yield* finalizers("fin-c")).toEqual([])

      // A deletion: cleanup runs, the finalizer goes, and with it the object.
      yield* kube.delete(Gizmo, "g", { namespace: "fin-a" })
      yield* eventually(Effect.flip(kube.get(Gizmo, "g", { namespace: "fin-a" })))
      expect(yield* Ref.get(cleaned)).toEqual(["fin-a/g"])

      // A stale copy: the real apiserver refuses the patch (Conflict) and keeps the finalizer.
      const stale = yield* kube.get(Gizmo, "g", { namespace: "fin-c" })
      yield* kube.patch(Gizmo, "g", { metadata: { labels: { touched: "yes" } } }, { namespace: "fin-c", type: "merge" })
      const refused = yield* Effect.either(
        Finalizer.run(finalizer, stale, { apply: () => Effect.die("unreachable"), cleanup: () => Effect.void }, options)
      )
      expect(Either.isLeft(refused) && refused.left._tag === "FinalizerError" && refused.left.stale).toBe(true)
      expect(yield* finalizers("fin-c")).toEqual([])

      for (const namespace of ["fin-b", "fin-c"]) yield* kube.delete(Gizmo, "g", { namespace })
      yield* eventually(Effect.flip(kube.get(Gizmo, "g", { namespace: "fin-b" })))
    })
  )
})
