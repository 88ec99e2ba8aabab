/**
 * The upgrade saga through the real reconciler (cache, decide, server-side apply, status) on the in-memory
 * apiserver, under the TestClock: a failed export Job is deleted, the reconcile asks to be woken after the backoff,
 * nothing is created before it has passed, and then the Job runs again as attempt 2.
 */
import { SecretGenerator } from "@convex-operator/core"
import { Action, EventRecorder, KubeClient, type KubeObject, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, TestClock } from "effect"
import { type Cache, makeCache } from "../src/reconcile/cache.js"
import { reconcile } from "../src/reconcile/reconciler.js"
import { ConvexInstances } from "../src/reconcile/resources.js"

const namespace = "apps"
const key = Resource.key(namespace, "demo")
const v1 = "1111111111111111111111111111111111111111"
const v2 = "2222222222222222222222222222222222222222"
const settings = { operatorImage: "registry.example/convex-operator:test" }

const layers = Layer.mergeAll(KubeClient.layerMemory(), EventRecorder.layerTest, SecretGenerator.layerTest(7))

/** Lets the watch fibers deliver what was written, until `check` holds. */
const until = <E, R>(what: string, check: Effect.Effect<boolean, E, R>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 500; i++) {
      if (yield* check) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.die(new Error(`the cache never saw ${what}`))
  })

const instanceStatus = (cache: Cache) =>
  (cache.instances.unsafeGet(key)?.status ?? {}) as { phase?: string; upgrade?: { phase?: string; attempt?: number } }

/** Writes the status a kubelet and the controllers would: the backend and dashboard rolled out and ready. */
const workloadsReady = (cache: Cache) =>
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
        readyReplicas: 1,
        updatedReplicas: 1,
        currentRevision: `r${generation}`,
        updateRevision: `r${generation}`
      },
      { namespace }
    )
    const deployment = yield* kube.get(Resource.Deployment, "demo-dashboard", { namespace })
    const replicas = (deployment.spec as { replicas: number }).replicas
    yield* kube.patchStatus(
      Resource.Deployment,
      "demo-dashboard",
      {
        observedGeneration: deployment.metadata.generation,
        replicas,
        readyReplicas: replicas,
        updatedReplicas: replicas,
        availableReplicas: replicas
      },
      { namespace }
    )
    yield* until(
      "the ready backend",
      Effect.sync(
        () =>
          (
            cache.store("StatefulSet").unsafeGet(Resource.key(namespace, "demo-backend"))?.status as
              | { readyReplicas?: number; observedGeneration?: number }
              | undefined
          )?.observedGeneration === generation
      )
    )
  })

/** Reconciles, then waits until the cache has the instance's new status. */
const reconcileOnce = (cache: Cache) =>
  Effect.gen(function* () {
    const action = yield* reconcile(cache, key, settings)
    const kube = yield* KubeClient
    const stored = yield* kube.get(ConvexInstances, "demo", { namespace })
    yield* until(
      "the instance's status",
      Effect.sync(() => cache.instances.unsafeGet(key)?.metadata.resourceVersion === stored.metadata.resourceVersion)
    )
    return action
  })

const exportJobs = Effect.gen(function* () {
  const kube = yield* KubeClient
  const jobs = yield* kube.list(Resource.Job, { namespace })
  return jobs.items.filter((job: KubeObject) => job.metadata.name?.startsWith("demo-export-"))
})

describe("the upgrade saga through the reconciler", () => {
  it.scoped("retries a failed export Job after the backoff, and not before", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.parse("2025-06-01T12:00:00Z"))
      const kube = yield* KubeClient
      yield* kube.create(ConvexInstances, {
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexInstance",
        metadata: { name: "demo", namespace },
        spec: { environment: "dev", version: v1 }
      } as KubeObject)
      const cache = yield* makeCache({ namespace, trigger: () => Effect.void, forget: () => Effect.void })
      yield* cache.ready
      yield* until(
        "the instance",
        Effect.sync(() => cache.instances.unsafeGet(key) !== undefined)
      )

      // Ready on v1.
      yield* reconcileOnce(cache)
      yield* until(
        "the backend",
        Effect.sync(() => cache.store("StatefulSet").unsafeGet(Resource.key(namespace, "demo-backend")) !== undefined)
      )
      yield* workloadsReady(cache)
      for (let i = 0; i < 3 && instanceStatus(cache).phase !== "Ready"; i++) yield* reconcileOnce(cache)
      expect(instanceStatus(cache).phase).toBe("Ready")

      // v2: the export Job, attempt 1.
      yield* kube.patch(ConvexInstances, "demo", { spec: { version: v2 } }, { namespace, type: "merge" })
      yield* until(
        "the new version",
        Effect.sync(() => (cache.instances.unsafeGet(key)?.spec as { version?: string } | undefined)?.version === v2)
      )
      yield* reconcileOnce(cache)
      const [first] = yield* exportJobs
      expect(first?.metadata.annotations?.["convex.icod.de/attempt"]).toBe("1")
      expect((first?.spec as { backoffLimit?: number } | undefined)?.backoffLimit).toBe(0)
      expect(instanceStatus(cache).upgrade).toMatchObject({ phase: "Exporting", attempt: 1 })

      // Its pod fails: the Job is deleted and the reconcile asks to be woken in 10 s.
      const name = first?.metadata.name ?? ""
      yield* kube.patchStatus(
        Resource.Job,
        name,
        { failed: 1, conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded" }] },
        { namespace }
      )
      yield* until(
        "the failed Job",
        Effect.sync(
          () =>
            (cache.store("Job").unsafeGet(Resource.key(namespace, name))?.status as { failed?: number } | undefined)
              ?.failed === 1
        )
      )
      const afterFailure = yield* reconcileOnce(cache)
      expect(afterFailure).toEqual(Action.requeueAfter(Duration.seconds(10)))
      expect(yield* exportJobs).toEqual([])
      expect(instanceStatus(cache).upgrade).toMatchObject({ phase: "Exporting", attempt: 2 })

      // Woken early (the deletion triggers it): still nothing, and the rest of the wait.
      yield* TestClock.adjust("4 seconds")
      expect(yield* reconcileOnce(cache)).toEqual(Action.requeueAfter(Duration.seconds(6)))
      expect(yield* exportJobs).toEqual([])

      // After the backoff: attempt 2.
      yield* TestClock.adjust("6 seconds")
      yield* reconcileOnce(cache)
      const [second] = yield* exportJobs
      expect(second?.metadata.name).toBe(name)
      expect(second?.metadata.annotations?.["convex.icod.de/attempt"]).toBe("2")
      expect(second?.metadata.uid).not.toBe(first?.metadata.uid)
    }).pipe(Effect.provide(layers))
  )
})
