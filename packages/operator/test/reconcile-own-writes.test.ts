/**
 * A reconcile woken before the cache has seen what the last one wrote (an event of another object it wrote can
 * arrive first) must not decide from the older picture: not from the old status, the journal of the sagas (the fault
 * suite saw an ended upgrade's snapshot Role created again), and not without a child it just created (a generated
 * Secret not yet seen would be generated again).
 */
import { KubeClient, type KubeObject, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Cache } from "../src/controllers/instance/cache.js"
import { makeCache } from "../src/controllers/instance/cache.js"
import { InstanceCache } from "../src/controllers/instance/instance-cache.js"
import { makeOwnWrites } from "../src/controllers/instance/own-writes.js"
import { reconcile } from "../src/controllers/instance/reconcile.js"
import { ConvexInstances } from "../src/shell/resources.js"
import {
  createInstance,
  layers,
  namespace,
  requestCount,
  requestsSince,
  until,
  untilCached,
  workloadsReady
} from "./support/operator-harness.js"

const key = Resource.key(namespace, "demo")
const settings = { operatorImage: "registry.example/convex-operator:test" }

/** The cache, but its instance Store holds `instance` (the version the cache had before a write). */
const holding = (cache: Cache, instance: KubeObject): Cache => ({
  ...cache,
  instances: { ...cache.instances, unsafeGet: (at) => (at === key ? instance : cache.instances.unsafeGet(at)) }
})

const reconcileWith = (cache: Cache) => reconcile(key, settings).pipe(Effect.provideService(InstanceCache, cache))

/** Waits until the cache holds the stored instance and the backend StatefulSet as stored. */
const untilCaught = (cache: Cache) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const stored = yield* kube.get(Resource.StatefulSet, "demo-backend", { namespace })
    const instance = yield* kube.get(ConvexInstances, "demo", { namespace })
    yield* until(
      "the cache to catch up",
      Effect.sync(
        () =>
          cache.instances.unsafeGet(key)?.metadata.resourceVersion === instance.metadata.resourceVersion &&
          cache.store("StatefulSet").unsafeGet(Resource.key(namespace, "demo-backend"))?.metadata.resourceVersion ===
            stored.metadata.resourceVersion
      )
    )
  })

/** A new instance without a dashboard, and the cache once it holds it. */
const newInstance = Effect.gen(function* () {
  yield* createInstance("demo", { dashboard: { enabled: false } })
  const cache = yield* makeCache({ namespace, trigger: () => Effect.void })
  yield* cache.ready
  yield* until(
    "the instance",
    Effect.sync(() => cache.instances.unsafeGet(key) !== undefined)
  )
  return cache
})

describe("a reconcile and the operator's own writes", () => {
  it.scoped("waits for the cache to see the status it wrote, then goes on from there", () =>
    Effect.gen(function* () {
      const cache = yield* newInstance
      yield* reconcileWith(cache)
      yield* untilCaught(cache)

      // The backend becomes ready: the next reconcile writes Ready=True.
      yield* workloadsReady("demo")
      yield* untilCaught(cache)
      const before = cache.instances.unsafeGet(key) as KubeObject
      expect((before.status as { phase?: string }).phase).not.toBe("Ready")
      yield* reconcileWith(cache)
      const kube = yield* KubeClient
      const written = yield* kube.get(ConvexInstances, "demo", { namespace })
      expect(written.metadata.resourceVersion).not.toBe(before.metadata.resourceVersion)

      // Woken again while the cache still holds the version it decided from: no request at all.
      const from = yield* requestCount
      yield* reconcileWith(holding(cache, before))
      expect(yield* requestsSince(from)).toEqual([])

      // Once the cache has the written status, the reconcile runs as usual: the instance is Ready and unchanged.
      yield* untilCaught(cache)
      const at = yield* requestCount
      yield* reconcileWith(cache)
      expect(yield* requestsSince(at)).toEqual([])
      expect((cache.instances.unsafeGet(key)?.status as { phase?: string } | undefined)?.phase).toBe("Ready")

      // A version the cache moved past is forgotten: the old one is no longer held back.
      expect(cache.ownWrites.superseded(key, before.metadata.resourceVersion)).toBe(false)
    }).pipe(Effect.provide(layers))
  )

  it.scoped(
    "takes a child it wrote for the one the cache has not seen yet: the generated Secret is not generated again",
    () =>
      Effect.gen(function* () {
        const cache = yield* newInstance
        // The Secret's watch event is late: the cache shows no generated Secret, and the notes of the operator's own
        // writes are not told of its arrival.
        const secrets = cache.store("Secret")
        const late: Cache = {
          ...cache,
          ownWrites: makeOwnWrites(),
          store: (kind) =>
            kind === "Secret"
              ? {
                  ...secrets,
                  unsafeByIndex: (index, value) =>
                    secrets
                      .unsafeByIndex(index, value)
                      .filter((secret) => secret.metadata.name !== "demo-convex-secrets")
                }
              : cache.store(kind)
        }
        yield* reconcileWith(late)
        const kube = yield* KubeClient
        const generated = yield* kube.get(Resource.Secret, "demo-convex-secrets", { namespace })
        yield* untilCached(cache, "demo")

        yield* reconcileWith(late)
        const after = yield* kube.get(Resource.Secret, "demo-convex-secrets", { namespace })
        expect(after.metadata.resourceVersion).toBe(generated.metadata.resourceVersion)
        expect(after.data).toEqual(generated.data)
      }).pipe(Effect.provide(layers))
  )
})
