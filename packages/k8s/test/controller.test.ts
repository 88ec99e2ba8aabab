/** Controller wiring (triggers, owned/mapped kinds, deletion, resync) against the memory apiserver, under TestClock. */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Ref, TestClock } from "effect"
import {
  Action,
  Controller,
  EventRecorder,
  Health,
  KubeClient,
  type KubeObject,
  MemoryApiServer,
  Metrics,
  RecordedEvents,
  Resource
} from "../src/index.js"
import { Gizmo } from "./contract/harness.js"
import * as Example from "./example.js"

const settle = Effect.repeatN(Effect.yieldNow(), 100)
const ns = "default"
const gizmo = (name: string, secretName: string): KubeObject => ({
  apiVersion: Gizmo.apiVersion,
  kind: Gizmo.kind,
  metadata: { name, namespace: ns },
  spec: { secretName }
})
const secret = (name: string, value: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name, namespace: ns },
  stringData: { value }
})
const secretOf = (o: KubeObject) => `${o.metadata.namespace}/${(o.spec as { secretName: string }).secretName}`

const layer = Layer.mergeAll(KubeClient.layerMemory(), Metrics.Metrics.layer)

const writes = (requests: ReadonlyArray<string>) =>
  requests.filter((r) => ["APPLY", "PATCH", "PUT", "DELETE"].some((verb) => r.startsWith(verb)))

describe("Controller", () => {
  it.scoped(
    "reconciles on start, on changes of the object, of what it owns and of what maps to it; steady state writes nothing",
    () =>
      Effect.gen(function* () {
        const kube = yield* KubeClient
        const memory = yield* MemoryApiServer
        yield* kube.create(Resource.Secret, secret("s1", "a"))
        yield* kube.create(Resource.Secret, secret("s2", "a"))
        yield* kube.create(Gizmo, gizmo("g1", "s1"))
        yield* kube.create(Gizmo, gizmo("g2", "s2"))
        const runs = yield* Ref.make<ReadonlyArray<string>>([])
        const controller = yield* Controller.make({
          name: "gizmos",
          resource: Gizmo,
          indexers: { secret: (o) => [secretOf(o)] },
          owns: [{ resource: Resource.ConfigMap }],
          watches: [
            {
              resource: Resource.Secret,
              map: Controller.mapByIndex("secret", (s) => `${s.metadata.namespace}/${s.metadata.name}`)
            }
          ],
          concurrency: 2,
          resyncPeriod: "30 minutes",
          reconcile: (object, ctx) =>
            Effect.gen(function* () {
              yield* Ref.update(runs, (rs) => [...rs, ctx.key])
              const name = `${object.metadata.name}-config`
              const desired = { secret: (object.spec as { secretName: string }).secretName }
              const [child] = yield* ctx.owned(Resource.ConfigMap)
              if (child === undefined || JSON.stringify(child.data) !== JSON.stringify(desired)) {
                yield* kube.apply(
                  Resource.ConfigMap,
                  {
                    apiVersion: "v1",
                    kind: "ConfigMap",
                    metadata: { name, namespace: ns, ownerReferences: [Resource.ownerReference(object)] },
                    data: desired
                  },
                  { fieldManager: "gizmo-controller", force: true }
                )
              }
              const status = { observedGeneration: object.metadata.generation }
              if (JSON.stringify(object.status) !== JSON.stringify(status)) {
                yield* kube.patchStatus(Gizmo, object.metadata.name!, status, { namespace: ns })
              }
              return Action.awaitChange
            })
        })
        yield* controller.ready
        yield* settle
        const firstWrites = writes(yield* memory.requests)
        expect(firstWrites.sort()).toEqual([
          "APPLY configmaps default/g1-config",
          "APPLY configmaps default/g2-config",
          "PATCH gizmos default/g1",
          "PATCH gizmos default/g2"
        ])
        // Steady state: our own writes came back as events and were reconciled without writing again.
        const settled = (yield* Ref.get(runs)).length
        yield* TestClock.adjust("10 minutes")
        yield* settle
        expect(writes(yield* memory.requests)).toHaveLength(4)
        expect((yield* Ref.get(runs)).length).toBe(settled)

        // A mapped kind: the Secret s1 changes → g1 only.
        yield* Ref.set(runs, [])
        yield* kube.patch(Resource.Secret, "s1", { stringData: { value: "b" } }, { namespace: ns, type: "merge" })
        yield* settle
        expect(yield* Ref.get(runs)).toEqual(["default/g1"])
        // An owned kind: someone edits g2's ConfigMap → g2 repairs it.
        yield* Ref.set(runs, [])
        yield* kube.patch(
          Resource.ConfigMap,
          "g2-config",
          { data: { secret: "tampered" } },
          { namespace: ns, type: "merge" }
        )
        yield* settle
        expect((yield* Ref.get(runs))[0]).toBe("default/g2")
        const repaired = yield* kube.get(Resource.ConfigMap, "g2-config", { namespace: ns })
        expect(repaired.data).toEqual({ secret: "s2" })
        // Periodic resync: every object once more.
        yield* Ref.set(runs, [])
        yield* TestClock.adjust("20 minutes")
        yield* settle
        expect([...(yield* Ref.get(runs))].sort()).toEqual(["default/g1", "default/g2"])
      }).pipe(Effect.provide(layer))
  )

  it.scoped("deleting the object interrupts its running reconcile", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      yield* kube.create(Gizmo, gizmo("g1", "s1"))
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const controller = yield* Controller.make({
        name: "slow",
        resource: Gizmo,
        reconcile: () =>
          Deferred.succeed(started, undefined).pipe(
            Effect.zipRight(Effect.never),
            Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
          )
      })
      yield* Deferred.await(started)
      expect(yield* controller.queue.running).toEqual(["default/g1"])
      yield* kube.delete(Gizmo, "g1", { namespace: ns })
      yield* Deferred.await(interrupted)
      yield* settle
      expect(yield* controller.queue.running).toEqual([])
    }).pipe(Effect.provide(layer))
  )

  it.scoped("an owned object going away after its primary schedules nothing (no fiber for a gone key)", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      yield* kube.create(Gizmo, gizmo("g1", "s1"))
      const runs = yield* Ref.make(0)
      yield* Controller.make({
        name: "orphans",
        resource: Gizmo,
        owns: [{ resource: Resource.ConfigMap }],
        reconcile: (object) =>
          Effect.gen(function* () {
            yield* Ref.update(runs, (n) => n + 1)
            yield* kube.apply(
              Resource.ConfigMap,
              {
                apiVersion: "v1",
                kind: "ConfigMap",
                metadata: { name: "g1-config", namespace: ns, ownerReferences: [Resource.ownerReference(object)] }
              },
              { fieldManager: "gizmo-controller", force: true }
            )
            return Action.awaitChange
          })
      })
      yield* settle
      const adds = Metrics.controllerMetrics(yield* Metrics.Metrics).adds
      const before = adds.get({ name: "orphans" })
      const ranBefore = yield* Ref.get(runs)
      expect(ranBefore).toBeGreaterThan(0)
      // The owned ConfigMap is collected after its owner: its deletion names a primary that is gone.
      yield* kube.delete(Gizmo, "g1", { namespace: ns })
      yield* settle
      expect(yield* Effect.either(kube.get(Resource.ConfigMap, "g1-config", { namespace: ns }))).toMatchObject({
        _tag: "Left"
      })
      expect(adds.get({ name: "orphans" })).toBe(before)
      expect(yield* Ref.get(runs)).toBe(ranBefore)
    }).pipe(Effect.provide(layer))
  )

  it.scoped("RequeueAfter wakes the object up again; errors back off", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      yield* kube.create(Gizmo, gizmo("ok", "s"))
      yield* kube.create(Gizmo, gizmo("failing", "s"))
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Controller.make({
        name: "requeue",
        resource: Gizmo,
        concurrency: 2,
        reconcile: (object) =>
          Effect.gen(function* () {
            yield* Ref.update(runs, (rs) => [...rs, object.metadata.name!])
            if (object.metadata.name === "failing") return yield* Effect.fail("nope")
            return Action.requeueAfter("1 minute")
          })
      })
      yield* settle
      yield* TestClock.adjust("59 seconds")
      yield* settle
      const count = (name: string) => Effect.map(Ref.get(runs), (rs) => rs.filter((r) => r === name).length)
      expect(yield* count("ok")).toBe(1)
      // 5 ms, 10 ms, … doubling: 14 retries fit in 59 s (sum of 5·2^k for k < 14 ≈ 82 s > 59 s > 41 s).
      expect(yield* count("failing")).toBe(14)
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(yield* count("ok")).toBe(2)
      const text = (yield* Metrics.Metrics).render()
      expect(text).toContain('controller_runtime_reconcile_total{controller="requeue",result="requeue_after"} 2')
      expect(text).toContain('controller_runtime_reconcile_errors_total{controller="requeue"} 14')
    }).pipe(Effect.provide(layer))
  )
})

describe("Health", () => {
  it.scoped("serves /metrics, /healthz and /readyz on loopback", () =>
    Effect.gen(function* () {
      const registry = Metrics.makeRegistry()
      registry.counter("controller_runtime_reconcile_total", "Total").inc({ controller: "x", result: "success" })
      const ready = yield* Ref.make(false)
      const server = yield* Health.serve({ port: 0, host: "127.0.0.1", registry, ready: { caches: Ref.get(ready) } })
      const get = (path: string) =>
        Effect.promise(async () => {
          const response = await fetch(`${server.url}${path}`)
          return { status: response.status, text: await response.text() }
        })
      expect((yield* get("/healthz")).status).toBe(200)
      const notReady = yield* get("/readyz")
      expect(notReady).toEqual({ status: 503, text: "not ready: caches" })
      yield* Ref.set(ready, true)
      expect((yield* get("/readyz")).status).toBe(200)
      const metrics = yield* get("/metrics")
      expect(metrics.text).toContain('controller_runtime_reconcile_total{controller="x",result="success"} 1')
    })
  )
})

describe("README example", () => {
  it.scoped("the example reconcile makes the ConfigMap, the status and one event", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      yield* kube.create(Example.Gizmo, { ...gizmo("g", "s"), spec: { size: 3 } })
      yield* Controller.make({
        name: "gizmo",
        resource: Example.Gizmo,
        owns: [{ resource: Resource.ConfigMap }],
        reconcile: Example.reconcile
      })
      yield* settle
      const child = yield* kube.get(Resource.ConfigMap, "g-config", { namespace: ns })
      expect(child.data).toEqual({ size: "3" })
      expect(Resource.controllerOf(child)?.name).toBe("g")
      expect((yield* kube.get(Example.Gizmo, "g", { namespace: ns })).status).toEqual({ observedGeneration: 1 })
      expect((yield* yield* RecordedEvents).map((e) => e.reason)).toEqual(["Configured"])
    }).pipe(Effect.provide(Layer.mergeAll(layer, EventRecorder.layerTest)))
  )
})
