/** The README example controller against a real apiserver: reconcile, react to a spec change, settle, serve metrics. */

import { Controller, EventRecorder, Health, KubeClient, Resource } from "@convex-operator/k8s"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Schedule } from "effect"
import * as Example from "../../../packages/k8s/test/example.js"
import { LocalCluster } from "../../cluster/local-cluster.js"
import { clusterLayerOptions } from "../support.js"
import { gizmoCrd, liveClient } from "./support.js"

const ns = "default"
const eventually = <A, E, R>(check: Effect.Effect<A, E, R>) =>
  check.pipe(Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("20 seconds"))))
const expectEq = <A>(actual: Effect.Effect<A, unknown>, expected: A) =>
  eventually(
    Effect.flatMap(actual, (a) =>
      JSON.stringify(a) === JSON.stringify(expected) ? Effect.void : Effect.fail(`got ${JSON.stringify(a)}`)
    )
  )

const recorder = EventRecorder.layer({ controller: "k8s.convex-operator.test/gizmo", instance: "test-0" })

layer(
  Layer.provideMerge(
    Layer.provideMerge(recorder, liveClient()),
    LocalCluster.layer({ components: "apiserver", crds: [gizmoCrd] })
  ),
  clusterLayerOptions
)("the README example controller against a real apiserver", (it) => {
  it.scoped("reconciles, follows spec changes, then makes no writes; /metrics and /readyz", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const controller = yield* Controller.make({
        name: "gizmo",
        resource: Example.Gizmo,
        owns: [{ resource: Resource.ConfigMap }],
        concurrency: 4,
        reconcile: Example.reconcile
      })
      const health = yield* Health.serve({ port: 0, host: "127.0.0.1", ready: { caches: controller.isReady } })
      yield* controller.ready
      yield* kube.create(Example.Gizmo, {
        apiVersion: Example.Gizmo.apiVersion,
        kind: Example.Gizmo.kind,
        metadata: { name: "readme", namespace: ns },
        spec: { size: 2 }
      })
      const data = Effect.map(kube.get(Resource.ConfigMap, "readme-config", { namespace: ns }), (c) => c.data)
      const observed = Effect.map(kube.get(Example.Gizmo, "readme", { namespace: ns }), (g) => g.status)
      yield* expectEq(data, { size: "2" })
      yield* expectEq(observed, { observedGeneration: 1 })
      yield* kube.patch(Example.Gizmo, "readme", { spec: { size: 5 } }, { namespace: ns, type: "merge" })
      yield* expectEq(data, { size: "5" })
      yield* expectEq(observed, { observedGeneration: 2 })
      // Settled: nothing changes any more.
      const versions = Effect.all([
        Effect.map(kube.get(Resource.ConfigMap, "readme-config", { namespace: ns }), (c) => c.metadata.resourceVersion),
        Effect.map(kube.get(Example.Gizmo, "readme", { namespace: ns }), (g) => g.metadata.resourceVersion)
      ])
      const before = yield* versions
      yield* Effect.sleep("1500 millis")
      expect(yield* versions).toEqual(before)
      const fetchText = (path: string) =>
        Effect.promise(async () => {
          const r = await fetch(`${health.url}${path}`)
          return { status: r.status, text: await r.text() }
        })
      expect((yield* fetchText("/readyz")).status).toBe(200)
      const metrics = (yield* fetchText("/metrics")).text
      expect(metrics).toMatch(/controller_runtime_reconcile_total\{controller="gizmo",result="success"\} [1-9]/)
      expect(metrics).toContain('workqueue_depth{name="gizmo"} 0')
      const events = (yield* kube.list(Resource.Event, { namespace: ns })).items.filter(
        (e) => e.reason === "Configured"
      )
      // Later "Configured" events joined the first as a series. At least two (one per generation); a reconcile
      // that read the cache before its own status write arrived records one more, which is fine.
      expect(events.length).toBe(1)
      expect((events[0]?.series as { count?: number } | undefined)?.count).toBeGreaterThanOrEqual(2)
    })
  )
})
