/**
 * The pause annotation against the in-memory apiserver: pausing a reconciled instance costs one status write and
 * one event; while paused, reconciles write nothing, not even after a spec change or a deleted child; removing the
 * annotation resumes (the spec change and the child are applied).
 */
import { pauseAnnotation } from "@convex-operator/core"
import { KubeClient, type KubeObject, MemoryApiServer, RecordedEvents, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { makeCache } from "../src/controllers/instance/cache.js"
import { InstanceCache } from "../src/controllers/instance/instance-cache.js"
import { reconcile } from "../src/controllers/instance/reconcile.js"
import { ConvexInstances } from "../src/shell/resources.js"
import { type Json, layers, namespace, settings, until, writesOf } from "./support/operator-harness.js"

const key = Resource.key(namespace, "demo")

const instance = (env: string, paused: boolean): KubeObject =>
  ({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name: "demo", namespace, annotations: paused ? { [pauseAnnotation]: "true" } : {} },
    spec: {
      environment: "dev",
      version: "1111111111111111111111111111111111111111",
      backend: { env: [{ name: "PHASE", value: env }] }
    }
  }) as unknown as KubeObject

const applyInstance = (env: string, paused: boolean) =>
  Effect.flatMap(KubeClient, (kube) =>
    kube.apply(ConvexInstances, instance(env, paused), { fieldManager: "test", force: true })
  )

const phaseEnv = (statefulSet: KubeObject | undefined): unknown =>
  (statefulSet as unknown as Json | undefined)?.spec.template.spec.containers[0].env.find(
    (env: Json) => env.name === "PHASE"
  )?.value

describe("the pause annotation", () => {
  it.scoped("costs one status write and one event, then nothing until it is removed", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const server = yield* MemoryApiServer
      yield* applyInstance("one", false)
      const cache = yield* makeCache({ namespace, trigger: () => Effect.void })
      yield* cache.ready
      yield* until("the instance", () => cache.instances.unsafeGet(key) !== undefined)
      yield* reconcile(key, settings).pipe(Effect.provideService(InstanceCache, cache))
      const statefulSets = cache.store("StatefulSet")
      const backendKey = Resource.key(namespace, "demo-backend")
      yield* until("the StatefulSet", () => statefulSets.unsafeGet(backendKey) !== undefined)

      // Pause.
      const pausedObject = yield* applyInstance("one", true)
      yield* until(
        "the annotation",
        () => cache.instances.unsafeGet(key)?.metadata.resourceVersion === pausedObject.metadata.resourceVersion
      )
      const beforePause = (yield* server.requests).length
      yield* reconcile(key, settings).pipe(Effect.provideService(InstanceCache, cache))
      expect(writesOf((yield* server.requests).slice(beforePause))).toEqual([`APPLY convexinstances ${namespace}/demo`])
      const stored = yield* kube.get(ConvexInstances, "demo", { namespace })
      const status = (stored as unknown as Json).status
      expect(status.phase).toBe("Paused")
      expect(status.conditions.find((c: Json) => c.type === "ReconciliationPaused")).toMatchObject({
        status: "True",
        reason: "Paused"
      })
      const pausedEvents = (yield* yield* RecordedEvents).filter((event) => event.reason === "ReconciliationPaused")
      expect(pausedEvents).toEqual([expect.objectContaining({ type: "Normal" })])

      // While paused: a spec change and a deleted child are not acted on; reconciles write nothing.
      const changed = yield* applyInstance("two", true)
      yield* kube.delete(Resource.Service, "demo-backend", { namespace })
      yield* until(
        "the change",
        () => cache.instances.unsafeGet(key)?.metadata.resourceVersion === changed.metadata.resourceVersion
      )
      const whilePaused = (yield* server.requests).length
      for (let i = 0; i < 3; i++) {
        yield* TestClock.adjust("1 minute")
        yield* reconcile(key, settings).pipe(Effect.provideService(InstanceCache, cache))
      }
      expect(writesOf((yield* server.requests).slice(whilePaused))).toEqual([])
      expect(phaseEnv(yield* kube.get(Resource.StatefulSet, "demo-backend", { namespace }))).toBe("one")
      expect((yield* yield* RecordedEvents).filter((event) => event.reason === "ReconciliationPaused")).toHaveLength(1)

      // Resume.
      const resumedObject = yield* kube.patch(
        ConvexInstances,
        "demo",
        { metadata: { annotations: { [pauseAnnotation]: null } } },
        { namespace, type: "merge", fieldManager: "test" }
      )
      yield* until(
        "the removed annotation",
        () => cache.instances.unsafeGet(key)?.metadata.resourceVersion === resumedObject.metadata.resourceVersion
      )
      yield* reconcile(key, settings).pipe(Effect.provideService(InstanceCache, cache))
      expect(phaseEnv(yield* kube.get(Resource.StatefulSet, "demo-backend", { namespace }))).toBe("two")
      yield* kube.get(Resource.Service, "demo-backend", { namespace })
      const resumed = (yield* kube.get(ConvexInstances, "demo", { namespace })) as unknown as Json
      expect(resumed.status.phase).not.toBe("Paused")
      expect(resumed.status.conditions.some((c: Json) => c.type === "ReconciliationPaused")).toBe(false)
      expect((yield* yield* RecordedEvents).filter((event) => event.reason === "ReconciliationResumed")).toHaveLength(1)
    }).pipe(Effect.provide(layers))
  )

  it.scoped("an instance created paused gets neither children nor a finalizer, only its status", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const server = yield* MemoryApiServer
      const created = yield* applyInstance("one", true)
      const cache = yield* makeCache({ namespace, trigger: () => Effect.void })
      yield* cache.ready
      yield* until(
        "the instance",
        () => cache.instances.unsafeGet(key)?.metadata.resourceVersion === created.metadata.resourceVersion
      )
      const before = (yield* server.requests).length
      yield* reconcile(key, settings).pipe(Effect.provideService(InstanceCache, cache))
      expect(writesOf((yield* server.requests).slice(before))).toEqual([`APPLY convexinstances ${namespace}/demo`])
      const stored = yield* kube.get(ConvexInstances, "demo", { namespace })
      expect(stored.metadata.finalizers ?? []).toEqual([])
      expect((yield* kube.list(Resource.StatefulSet, { namespace })).items).toEqual([])
    }).pipe(Effect.provide(layers))
  )
})
