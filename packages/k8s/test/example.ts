// biome-ignore-all format: packages/k8s/README.md shows this file as it is

import { Effect } from "effect"
import { Action, Controller, EventRecorder, Health, KubeClient, type KubeObject, LeaderElection, Resource } from "../src/index.js"

export const Gizmo = Resource.make({ group: "k8s.convex-operator.test", version: "v1", kind: "Gizmo", plural: "gizmos", namespaced: true })

// One Gizmo → one ConfigMap it owns, and status.observedGeneration once that is done.
export const reconcile = (gizmo: KubeObject) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const { name, namespace, generation } = gizmo.metadata
    yield* kube.apply(Resource.ConfigMap, {
      apiVersion: "v1", kind: "ConfigMap",
      metadata: { name: `${name}-config`, namespace, ownerReferences: [Resource.ownerReference(gizmo)] },
      data: { size: String((gizmo.spec as { size?: number }).size ?? 1) }
    }, { fieldManager: "gizmo-controller", force: true })
    if ((gizmo.status as { observedGeneration?: number } | undefined)?.observedGeneration !== generation) {
      yield* kube.patchStatus(Gizmo, name!, { observedGeneration: generation }, { namespace })
      yield* (yield* EventRecorder).record({ regarding: gizmo, type: "Normal", reason: "Configured", action: "Reconcile" })
    }
    return Action.awaitChange
  })

export const main = Effect.gen(function* () {
  const leadership = yield* LeaderElection.make({ namespace: "default", name: "gizmo-controller", identity: process.env.HOSTNAME ?? "dev" })
  yield* Health.serve({ port: 8080, ready: { leader: leadership.isLeader } })
  yield* LeaderElection.whileLeader(leadership,
    Controller.run({ name: "gizmo", resource: Gizmo, owns: [{ resource: Resource.ConfigMap }], concurrency: 4, reconcile }))
}).pipe(Effect.scoped)
// Run it: main.pipe(Effect.provide(EventRecorder.layer({ controller: "example.com/gizmo", instance: "dev" })),
//   Effect.provide(KubeClient.layerLive()), NodeRuntime.runMain)
