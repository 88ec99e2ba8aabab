/** Controller namespace scopes, relist triggers and filters, against the memory apiserver under TestClock. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Ref, TestClock } from "effect"
import {
  Action,
  Controller,
  Gone,
  KubeClient,
  type KubeObject,
  MemoryApiServer,
  Metrics,
  Resource,
  Store
} from "../src/index.js"
import { Gizmo } from "./contract/harness.js"

const settle = Effect.repeatN(Effect.yieldNow(), 100)
const layer = Layer.mergeAll(KubeClient.layerMemory(), Metrics.Metrics.layer)

const gizmo = (namespace: string, name: string, secretName = "s"): KubeObject => ({
  apiVersion: Gizmo.apiVersion,
  kind: Gizmo.kind,
  metadata: { name, namespace },
  spec: { secretName }
})
const configMap = (owner: KubeObject, name: string, value: string): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: owner.metadata.namespace, ownerReferences: [Resource.ownerReference(owner)] },
  data: { value }
})
const secret = (name: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name, namespace: "default", labels },
  stringData: { value: "a" }
})

/** A controller recording the keys it reconciles; it writes nothing. */
const recording = (
  options: Omit<Controller.ControllerOptions<KubeObject, never, never>, "name" | "resource" | "reconcile">
) =>
  Effect.gen(function* () {
    const runs = yield* Ref.make<ReadonlyArray<string>>([])
    const controller = yield* Controller.make({
      name: "scoped",
      resource: Gizmo,
      concurrency: 4,
      resyncPeriod: false,
      ...options,
      reconcile: (_, ctx) =>
        Effect.as(
          Ref.update(runs, (rs) => [...rs, ctx.key]),
          Action.awaitChange
        )
    })
    yield* controller.ready
    yield* settle
    const take = Effect.map(Ref.getAndSet(runs, []), (rs) => [...new Set(rs)].sort())
    return { controller, take }
  })

describe("Controller scopes", () => {
  it.scoped("namespaces: one watch per namespace and kind, one Store per kind, nothing from other namespaces", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* MemoryApiServer
      const owners = []
      for (const namespace of ["a", "b", "c"]) owners.push(yield* kube.create(Gizmo, gizmo(namespace, "g")))
      for (const owner of owners) yield* kube.create(Resource.ConfigMap, configMap(owner, "g-config", "1"))
      const { controller, take } = yield* recording({
        namespaces: ["a", "b"],
        owns: [{ resource: Resource.ConfigMap }]
      })
      expect(yield* take).toEqual(["a/g", "b/g"])
      const requests = yield* memory.requests
      expect(requests.filter((r) => r.startsWith("WATCH")).sort()).toEqual([
        "WATCH configmaps a",
        "WATCH configmaps b",
        "WATCH gizmos a",
        "WATCH gizmos b"
      ])
      expect(controller.primaries.unsafeList().map(Resource.keyOf).sort()).toEqual(["a/g", "b/g"])
      expect(controller.store(Resource.ConfigMap).unsafeList().map(Resource.keyOf).sort()).toEqual([
        "a/g-config",
        "b/g-config"
      ])
      expect(yield* controller.isReady).toBe(true)

      // An owned object in b triggers b's primary; one in c nothing.
      yield* kube.patch(Resource.ConfigMap, "g-config", { data: { value: "2" } }, { namespace: "b", type: "merge" })
      yield* kube.patch(Resource.ConfigMap, "g-config", { data: { value: "2" } }, { namespace: "c", type: "merge" })
      yield* settle
      expect(yield* take).toEqual(["b/g"])

      // A relist of one namespace's watch (its watch answered 410) keeps the other namespace's objects.
      const lists = (yield* memory.requests).filter((r) => r.startsWith("LIST")).length
      yield* memory.failNext(1, (request) => new Gone({ request, message: "too old resource version" }))
      yield* memory.disconnectWatches
      yield* TestClock.adjust("5 seconds")
      yield* settle
      expect((yield* memory.requests).filter((r) => r.startsWith("LIST"))).toHaveLength(lists + 1)
      expect(controller.primaries.unsafeList().map(Resource.keyOf).sort()).toEqual(["a/g", "b/g"])
      expect(controller.store(Resource.ConfigMap).unsafeList().map(Resource.keyOf).sort()).toEqual([
        "a/g-config",
        "b/g-config"
      ])
    }).pipe(Effect.provide(layer))
  )

  it.scoped(
    "a relist of an owned or mapped kind triggers the primaries of what it added, changed or removed, and no others",
    () =>
      Effect.gen(function* () {
        const kube = yield* KubeClient
        const memory = yield* MemoryApiServer
        const owners = []
        for (const name of ["g1", "g2", "g3", "g4"])
          owners.push(yield* kube.create(Gizmo, gizmo("default", name, name)))
        for (const owner of owners.slice(0, 3)) {
          yield* kube.create(Resource.ConfigMap, configMap(owner, `${owner.metadata.name}-config`, "1"))
        }
        yield* kube.create(Resource.Secret, secret("g3"))
        // The primaries' watch is trusted for an hour, the other kinds' for a minute: only those relist.
        const { take } = yield* recording({
          watcher: { idleTimeout: "1 hour" },
          indexers: { secret: (o) => [`default/${(o.spec as { secretName: string }).secretName}`] },
          owns: [{ resource: Resource.ConfigMap, watcher: { idleTimeout: "60 seconds" } }],
          watches: [
            {
              resource: Resource.Secret,
              watcher: { idleTimeout: "60 seconds" },
              map: Controller.mapByIndex("secret", (s) => Resource.keyOf(s))
            }
          ]
        })
        expect(yield* take).toEqual(["default/g1", "default/g2", "default/g3", "default/g4"])

        // While the watches are silent: g1's ConfigMap changes, g2's goes, g3's Secret goes, g4 gets a Secret.
        yield* memory.setStalled(true)
        yield* kube.patch(
          Resource.ConfigMap,
          "g1-config",
          { data: { value: "2" } },
          { namespace: "default", type: "merge" }
        )
        yield* kube.delete(Resource.ConfigMap, "g2-config", { namespace: "default" })
        yield* kube.delete(Resource.Secret, "g3", { namespace: "default" })
        yield* kube.create(Resource.Secret, secret("g4"))
        yield* memory.compact
        yield* TestClock.adjust("60 seconds")
        yield* settle
        expect(yield* take).toEqual([])
        yield* memory.setStalled(false)
        yield* TestClock.adjust("1 second")
        yield* settle
        const relists = (yield* memory.requests).filter((r) => r.startsWith("LIST"))
        expect(relists.filter((r) => r.startsWith("LIST gizmos"))).toHaveLength(1)
        expect(yield* take).toEqual(["default/g1", "default/g2", "default/g3", "default/g4"])

        // A relist that finds only objects no primary cares about triggers nothing.
        yield* memory.setStalled(true)
        yield* kube.create(Resource.ConfigMap, {
          ...configMap(owners[0]!, "unowned", "1"),
          metadata: { name: "unowned", namespace: "default" }
        })
        yield* kube.create(Resource.Secret, secret("unreferenced"))
        yield* memory.compact
        yield* TestClock.adjust("60 seconds")
        yield* settle
        yield* memory.setStalled(false)
        yield* TestClock.adjust("5 seconds")
        yield* settle
        expect((yield* memory.requests).filter((r) => r.startsWith("LIST")).length).toBeGreaterThan(relists.length)
        expect(yield* take).toEqual([])
      }).pipe(Effect.provide(layer))
  )

  it.scoped(
    "a filter keeps refused objects in the Store but lets only accepted ones trigger; a transform applies",
    () =>
      Effect.gen(function* () {
        const kube = yield* KubeClient
        yield* kube.create(Gizmo, gizmo("default", "g1", "s1"))
        yield* kube.create(Gizmo, gizmo("default", "g2", "s2"))
        yield* kube.create(Resource.Secret, secret("s1"))
        yield* kube.create(Resource.Secret, secret("s2", { ignored: "yes" }))
        const { controller, take } = yield* recording({
          indexers: { secret: (o) => [`default/${(o.spec as { secretName: string }).secretName}`] },
          watches: [
            {
              resource: Resource.Secret,
              watcher: { transform: Store.trim },
              filter: (s) => s.metadata.labels?.ignored !== "yes",
              map: Controller.mapByIndex("secret", (s) => Resource.keyOf(s))
            }
          ]
        })
        yield* take
        const annotate = (name: string) =>
          kube.patch(
            Resource.Secret,
            name,
            { metadata: { annotations: { [Store.lastAppliedAnnotation]: "{}", note: "x" } } },
            { namespace: "default", type: "merge" }
          )
        yield* annotate("s1")
        yield* annotate("s2")
        yield* settle
        expect(yield* take).toEqual(["default/g1"])
        const stored = controller.store(Resource.Secret).unsafeGet("default/s2")
        expect(stored?.metadata.annotations).toEqual({ note: "x" })
      }).pipe(Effect.provide(layer))
  )

  it.scoped("a kind both owned and mapped is watched once and triggers its owner and what the map names", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* MemoryApiServer
      const owner = yield* kube.create(Gizmo, gizmo("default", "g1"))
      yield* kube.create(Gizmo, gizmo("default", "g2"))
      yield* kube.create(Gizmo, gizmo("default", "g3"))
      const child = configMap(owner, "shared", "1")
      yield* kube.create(Resource.ConfigMap, { ...child, metadata: { ...child.metadata, labels: { for: "g2" } } })
      const { controller, take } = yield* recording({
        owns: [{ resource: Resource.ConfigMap }],
        watches: [
          {
            resource: Resource.ConfigMap,
            indexers: { for: (o) => (o.metadata.labels?.for === undefined ? [] : [o.metadata.labels.for]) },
            map: (o) => (o.metadata.labels?.for === undefined ? [] : [Resource.key("default", o.metadata.labels.for)])
          }
        ]
      })
      yield* take
      yield* kube.patch(Resource.ConfigMap, "shared", { data: { value: "2" } }, { namespace: "default", type: "merge" })
      yield* settle
      expect(yield* take).toEqual(["default/g1", "default/g2"])
      expect((yield* memory.requests).filter((r) => r.startsWith("WATCH configmaps"))).toHaveLength(1)
      // Both declarations' indexes are there.
      expect(controller.store(Resource.ConfigMap).unsafeByIndex("for", "g2").map(Resource.keyOf)).toEqual([
        "default/shared"
      ])
      expect(controller.store(Resource.ConfigMap).unsafeByIndex("owner", owner.metadata.uid!)).toHaveLength(1)
    }).pipe(Effect.provide(layer))
  )
})
