/**
 * A spec that passed admission but does not decode (the in-memory apiserver admits anything, as a cluster with an
 * older CRD would): the reconcile reports it as `Ready=False`/`InvalidSpec` naming the field, with one Warning event,
 * without repeating the value found; later reconciles of the same spec write nothing and are not retried; a corrected
 * spec is reconciled as usual. Its data claim goes with it (deletionPolicy Delete), read from the raw spec: it holds the
 * finalizer all along, so deleting it cleans up.
 */
import { Action, KubeClient, type KubeObject, MemoryApiServer, RecordedEvents, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeCache } from "../src/controllers/instance/cache.js"
import { InstanceCache } from "../src/controllers/instance/instance-cache.js"
import { reconcile } from "../src/controllers/instance/reconcile.js"
import { ConvexInstances } from "../src/shell/resources.js"
import { type Json, layers, namespace, settings, until, writesOf } from "./support/operator-harness.js"

const key = Resource.key(namespace, "demo")

const instance = (environment: string): KubeObject =>
  ({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name: "demo", namespace },
    spec: {
      environment,
      version: "1111111111111111111111111111111111111111",
      backend: { storage: { pvc: { deletionPolicy: "Delete" } } }
    }
  }) as unknown as KubeObject

const applyInstance = (environment: string) =>
  Effect.flatMap(KubeClient, (kube) =>
    kube.apply(ConvexInstances, instance(environment), { fieldManager: "test", force: true })
  )

describe("a spec that does not decode", () => {
  it.scoped("is reported once, naming the field, then costs nothing until the spec changes", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const server = yield* MemoryApiServer
      const written = yield* applyInstance("staging-secret-value")
      const cache = yield* makeCache({ namespace, trigger: () => Effect.void })
      yield* cache.ready
      yield* until(
        "the instance",
        () => cache.instances.unsafeGet(key)?.metadata.resourceVersion === written.metadata.resourceVersion
      )
      const run = reconcile(key, settings).pipe(Effect.provideService(InstanceCache, cache))

      const action = yield* run
      expect(action).toEqual(Action.awaitChange)
      const stored = (yield* kube.get(ConvexInstances, "demo", { namespace })) as unknown as Json
      const ready = stored.status.conditions.find((condition: Json) => condition.type === "Ready")
      expect(stored.status.phase).toBe("Error")
      expect(ready).toMatchObject({ status: "False", reason: "InvalidSpec" })
      expect(ready.message).toContain("spec.environment: Expected")
      expect(ready.message).toContain("kubectl edit convexinstance demo")
      expect(JSON.stringify(stored.status)).not.toContain("staging-secret-value")
      const warnings = (yield* yield* RecordedEvents).filter((event) => event.reason === "InvalidSpec")
      expect(warnings).toEqual([expect.objectContaining({ type: "Warning" })])
      expect(warnings[0]?.note ?? "").not.toContain("staging-secret-value")
      expect(stored.metadata.finalizers).toContain("convex.icod.de/finalizer")
      expect(cache.store("StatefulSet").unsafeList()).toEqual([])

      // The same spec again: no write, no event, no retry.
      yield* until(
        "the status in the cache",
        () => cache.instances.unsafeGet(key)?.metadata.resourceVersion === stored.metadata.resourceVersion
      )
      const before = (yield* server.requests).length
      expect(yield* run).toEqual(Action.awaitChange)
      expect(writesOf((yield* server.requests).slice(before))).toEqual([])
      expect((yield* yield* RecordedEvents).filter((event) => event.reason === "InvalidSpec")).toHaveLength(1)

      // Corrected: reconciled as usual.
      const fixed = yield* applyInstance("dev")
      yield* until(
        "the corrected spec",
        () => cache.instances.unsafeGet(key)?.metadata.resourceVersion === fixed.metadata.resourceVersion
      )
      yield* run
      const backendKey = Resource.key(namespace, "demo-backend")
      yield* until("the StatefulSet", () => cache.store("StatefulSet").unsafeGet(backendKey) !== undefined)
      const after = (yield* kube.get(ConvexInstances, "demo", { namespace })) as unknown as Json
      expect(after.status.conditions.find((condition: Json) => condition.type === "Ready")?.reason).not.toBe(
        "InvalidSpec"
      )
    }).pipe(Effect.provide(layers))
  )
})
