/**
 * The upgrade saga through the real reconciler (cache, decide, server-side apply, status) on the in-memory
 * apiserver, under the TestClock: the export is a ConvexBackup; when it fails, it is kept, the instance's saga fiber
 * (sagas/upgrade.ts) proposes the next attempt and wakes the instance, the reconcile journals it and asks to be
 * woken after the backoff, nothing is created before it has passed, and then attempt 2 is a second ConvexBackup.
 * A change of the backup wakes the instance (the cache watches pre-upgrade backups as children).
 */
import { SecretGenerator } from "@convex-operator/core"
import { upgradeHashLabel } from "@convex-operator/core/internal"
import { Action, EventRecorder, KubeClient, type KubeObject, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, TestClock } from "effect"
import { type Cache, makeCache } from "../src/controllers/instance/cache.js"
import { InstanceCache } from "../src/controllers/instance/instance-cache.js"
import { reconcile } from "../src/controllers/instance/reconcile.js"
import { ConvexBackups } from "../src/shell/backup-resources.js"
import { ConvexInstances } from "../src/shell/resources.js"

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
  (cache.instances.unsafeGet(key)?.status ?? {}) as {
    phase?: string
    upgrade?: { phase?: string; attempt?: number; backup?: string }
  }

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
    const action = yield* reconcile(key, settings).pipe(Effect.provideService(InstanceCache, cache))
    const kube = yield* KubeClient
    const stored = yield* kube.get(ConvexInstances, "demo", { namespace })
    yield* until(
      "the instance's status",
      Effect.sync(() => cache.instances.unsafeGet(key)?.metadata.resourceVersion === stored.metadata.resourceVersion)
    )
    return action
  })

const preUpgradeBackups = Effect.gen(function* () {
  const kube = yield* KubeClient
  const backups = yield* kube.list(ConvexBackups, { namespace, labelSelector: upgradeHashLabel })
  return backups.items
})

describe("the upgrade saga through the reconciler", () => {
  it.scoped("retries a failed pre-upgrade ConvexBackup with a new one after the backoff, and not before", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.parse("2025-06-01T12:00:00Z"))
      const kube = yield* KubeClient
      yield* kube.create(ConvexInstances, {
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexInstance",
        metadata: { name: "demo", namespace },
        spec: { environment: "dev", version: v1 }
      } as KubeObject)
      const triggered: Array<string> = []
      const cache = yield* makeCache({
        namespace,
        trigger: (key) => Effect.sync(() => void triggered.push(key))
      })
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

      // v2: the pre-upgrade ConvexBackup, attempt 1.
      yield* kube.patch(ConvexInstances, "demo", { spec: { version: v2 } }, { namespace, type: "merge" })
      yield* until(
        "the new version",
        Effect.sync(() => (cache.instances.unsafeGet(key)?.spec as { version?: string } | undefined)?.version === v2)
      )
      yield* reconcileOnce(cache)
      const [first, ...others] = yield* preUpgradeBackups
      expect(others).toEqual([])
      expect(first?.metadata.annotations?.["convex.icod.de/attempt"]).toBe("1")
      expect(first?.metadata.ownerReferences).toBeUndefined()
      expect(first?.spec).toEqual({ instanceRef: { name: "demo" }, target: { pvc: {} }, deletionPolicy: "Retain" })
      const name = first?.metadata.name ?? ""
      expect(instanceStatus(cache).upgrade).toMatchObject({ phase: "Exporting", attempt: 1, backup: name })
      yield* until(
        "the backup",
        Effect.sync(() => cache.store("ConvexBackup").unsafeGet(Resource.key(namespace, name)) !== undefined)
      )
      // A reconcile again (an operator restarted mid-export): the same backup, not a second one.
      yield* reconcileOnce(cache)
      expect((yield* preUpgradeBackups).map((backup) => backup.metadata.uid)).toEqual([first?.metadata.uid])

      // The backup fails: it is kept, the instance is woken, and the reconcile asks to be woken again in 10 s.
      triggered.length = 0
      yield* kube.patchStatus(ConvexBackups, name, { phase: "Failed", message: "the backup Job failed" }, { namespace })
      yield* until(
        "the failed backup",
        Effect.sync(
          () =>
            (
              cache.store("ConvexBackup").unsafeGet(Resource.key(namespace, name))?.status as
                | { phase?: string }
                | undefined
            )?.phase === "Failed"
        )
      )
      expect(triggered).toContain(key)
      // That reconcile shows the instance's saga the failed backup and writes nothing; the saga proposes attempt 2
      // and wakes the instance; the next reconcile journals it.
      triggered.length = 0
      expect(yield* reconcileOnce(cache)).toEqual(Action.awaitChange)
      expect(instanceStatus(cache).upgrade).toMatchObject({ phase: "Exporting", attempt: 1 })
      yield* until(
        "the saga's proposal",
        Effect.sync(() => cache.sagas.proposals(key).upgradeMove !== undefined)
      )
      expect(cache.sagas.proposals(key).upgradeMove?.to).toMatchObject({ phase: "Exporting", attempt: 2 })
      yield* until(
        "the saga's wake-up",
        Effect.sync(() => triggered.includes(key))
      )
      const afterFailure = yield* reconcileOnce(cache)
      expect(afterFailure).toEqual(Action.requeueAfter(Duration.seconds(10)))
      expect((yield* preUpgradeBackups).map((backup) => backup.metadata.name)).toEqual([name])
      expect(instanceStatus(cache).upgrade).toMatchObject({ phase: "Exporting", attempt: 2 })

      // Woken early: still nothing new, and the rest of the wait.
      yield* TestClock.adjust("4 seconds")
      expect(yield* reconcileOnce(cache)).toEqual(Action.requeueAfter(Duration.seconds(6)))
      expect((yield* preUpgradeBackups).map((backup) => backup.metadata.name)).toEqual([name])

      // After the backoff: attempt 2, a backup of its own; the failed one stays.
      yield* TestClock.adjust("6 seconds")
      yield* reconcileOnce(cache)
      const second = (yield* preUpgradeBackups).find((backup) => backup.metadata.name !== name)
      expect(second?.metadata.name).toBe(name.replace(/-1$/, "-2"))
      expect(second?.metadata.annotations?.["convex.icod.de/attempt"]).toBe("2")
      expect(instanceStatus(cache).upgrade).toMatchObject({ backup: second?.metadata.name })
    }).pipe(Effect.provide(layers))
  )
})
