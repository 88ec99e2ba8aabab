/**
 * Forced rollback through the real reconciler (cache, decide, apply) on the in-memory apiserver: an upgrade whose
 * backend pod never becomes Ready is rolled back by setting the version back; the StatefulSet controller would wait
 * for that pod forever, so the reconciler deletes it (once, with a UID precondition) and records an event. A pod of
 * the revision the StatefulSet rolls to, and a Ready pod, are left alone.
 */
import { SecretGenerator } from "@convex-operator/core"
import { EventRecorder, KubeClient, type KubeObject, RecordedEvents, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { type Cache, makeCache } from "../src/controllers/instance/cache.js"
import { InstanceCache } from "../src/controllers/instance/instance-cache.js"
import { reconcile } from "../src/controllers/instance/reconcile.js"
import { ConvexInstances } from "../src/shell/resources.js"

const namespace = "apps"
const key = Resource.key(namespace, "demo")
const v1 = "1111111111111111111111111111111111111111"
const v2 = "2222222222222222222222222222222222222222"
const settings = { operatorImage: "registry.example/convex-operator:test" }

const layers = Layer.mergeAll(KubeClient.layerMemory(), EventRecorder.layerTest, SecretGenerator.layerTest(7))

const until = <E, R>(what: string, check: Effect.Effect<boolean, E, R>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 500; i++) {
      if (yield* check) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.die(new Error(`the cache never saw ${what}`))
  })

const reconcileOnce = (cache: Cache) =>
  Effect.gen(function* () {
    yield* reconcile(key, settings).pipe(Effect.provideService(InstanceCache, cache))
    const kube = yield* KubeClient
    const stored = yield* kube.get(ConvexInstances, "demo", { namespace })
    yield* until(
      "the instance's status",
      Effect.sync(() => cache.instances.unsafeGet(key)?.metadata.resourceVersion === stored.metadata.resourceVersion)
    )
  })

const cachedBackend = (cache: Cache) => cache.store("StatefulSet").unsafeGet(Resource.key(namespace, "demo-backend"))

/** Writes the StatefulSet status its controller would, and waits until the cache has it. */
const backendStatus = (cache: Cache, status: { current: string; update: string; ready: number }) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const statefulSet = yield* kube.get(Resource.StatefulSet, "demo-backend", { namespace })
    const generation = statefulSet.metadata.generation
    yield* kube.patchStatus(
      Resource.StatefulSet,
      "demo-backend",
      {
        observedGeneration: generation,
        replicas: 1,
        readyReplicas: status.ready,
        updatedReplicas: status.current === status.update ? 1 : 0,
        currentRevision: status.current,
        updateRevision: status.update
      },
      { namespace }
    )
    yield* until(
      "the backend status",
      Effect.sync(() => {
        const cached = cachedBackend(cache)
        const seen = cached?.status as { observedGeneration?: number; updateRevision?: string } | undefined
        return (
          cached?.metadata.generation === generation &&
          seen?.observedGeneration === generation &&
          seen?.updateRevision === status.update
        )
      })
    )
    const deployment = yield* kube.get(Resource.Deployment, "demo-dashboard", { namespace })
    yield* kube.patchStatus(
      Resource.Deployment,
      "demo-dashboard",
      {
        observedGeneration: deployment.metadata.generation,
        replicas: 1,
        readyReplicas: 1,
        updatedReplicas: 1,
        availableReplicas: 1
      },
      { namespace }
    )
  })

/** The backend's pod as the StatefulSet controller creates it, of `revision`, Ready or not. */
const backendPod = (revision: string, ready: boolean) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const statefulSet = yield* kube.get(Resource.StatefulSet, "demo-backend", { namespace })
    const selector = (statefulSet.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels
    yield* kube
      .delete(Resource.Pod, "demo-backend-0", { namespace })
      .pipe(Effect.catchTag("NotFound", () => Effect.void))
    const pod = yield* kube.create(Resource.Pod, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "demo-backend-0",
        namespace,
        labels: { ...selector, "controller-revision-hash": revision },
        ownerReferences: [
          {
            apiVersion: "apps/v1",
            kind: "StatefulSet",
            name: "demo-backend",
            uid: statefulSet.metadata.uid ?? "",
            controller: true
          }
        ]
      },
      spec: { containers: [{ name: "backend", image: "backend" }] }
    } as KubeObject)
    yield* kube.patchStatus(
      Resource.Pod,
      "demo-backend-0",
      { phase: "Running", conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
      { namespace }
    )
    return pod.metadata.uid
  })

const podUid = Effect.flatMap(KubeClient, (kube) =>
  kube.get(Resource.Pod, "demo-backend-0", { namespace }).pipe(
    Effect.map((pod) => pod.metadata.uid),
    Effect.catchTag("NotFound", () => Effect.succeed(undefined))
  )
)

const forcedRollbacks = Effect.map(Effect.flatten(RecordedEvents), (events) =>
  events.filter((event) => event.reason === "ForcedRollback")
)

const setVersion = (cache: Cache, version: string) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    yield* kube.patch(ConvexInstances, "demo", { spec: { version } }, { namespace, type: "merge" })
    yield* until(
      `version ${version}`,
      Effect.sync(() => (cache.instances.unsafeGet(key)?.spec as { version?: string } | undefined)?.version === version)
    )
    yield* reconcileOnce(cache)
    const generation = (yield* kube.get(Resource.StatefulSet, "demo-backend", { namespace })).metadata.generation
    yield* until(
      "the applied template",
      Effect.sync(() => cachedBackend(cache)?.metadata.generation === generation)
    )
  })

describe("forced rollback through the reconciler", () => {
  it.scoped("deletes the not-Ready pod of the reverted version once and says so; leaves every other pod", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.parse("2025-06-01T12:00:00Z"))
      const kube = yield* KubeClient
      yield* kube.create(ConvexInstances, {
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexInstance",
        metadata: { name: "demo", namespace },
        spec: { environment: "dev", version: v1, maintenance: { preUpgradeBackup: { enabled: false } } }
      } as KubeObject)
      const cache = yield* makeCache({ namespace, trigger: () => Effect.void })
      yield* cache.ready
      yield* until(
        "the instance",
        Effect.sync(() => cache.instances.unsafeGet(key) !== undefined)
      )
      yield* reconcileOnce(cache)
      yield* until(
        "the backend",
        Effect.sync(() => cachedBackend(cache) !== undefined)
      )
      yield* backendPod("r-v1", true)
      yield* backendStatus(cache, { current: "r-v1", update: "r-v1", ready: 1 })
      yield* reconcileOnce(cache)

      // v2 rolls; its pod never becomes Ready. While the StatefulSet rolls to it, the pod is left alone.
      yield* setVersion(cache, v2)
      const badPod = yield* backendPod("r-v2", false)
      yield* backendStatus(cache, { current: "r-v1", update: "r-v2", ready: 0 })
      yield* reconcileOnce(cache)
      expect(yield* podUid).toBe(badPod)
      expect(yield* forcedRollbacks).toEqual([])

      // Back to v1: the template is reverted; until the controller reports it, nothing happens.
      yield* setVersion(cache, v1)
      yield* reconcileOnce(cache)
      expect(yield* podUid).toBe(badPod)

      // A Ready pod of the reverted revision is never deleted (the StatefulSet replaces it itself).
      yield* backendPod("r-v2", true)
      yield* backendStatus(cache, { current: "r-v1", update: "r-v1", ready: 0 })
      const readyPod = yield* podUid
      yield* reconcileOnce(cache)
      expect(yield* podUid).toBe(readyPod)
      expect(yield* forcedRollbacks).toEqual([])

      // Not Ready: deleted, with an event naming it.
      const stuck = yield* backendPod("r-v2", false)
      yield* reconcileOnce(cache)
      expect(yield* podUid).toBeUndefined()
      const [event, ...more] = yield* forcedRollbacks
      expect(more).toEqual([])
      expect(event?.note).toContain("deleted pod demo-backend-0")
      expect(event?.note).toContain("r-v2")
      expect(stuck).not.toBe(badPod)

      // Its replacement (the reverted-to revision, not Ready yet) is left alone: one deletion, one event.
      const replacement = yield* backendPod("r-v1", false)
      yield* reconcileOnce(cache)
      yield* reconcileOnce(cache)
      expect(yield* podUid).toBe(replacement)
      expect(yield* forcedRollbacks).toHaveLength(1)
    }).pipe(Effect.provide(layers))
  )
})
