/** Watcher and Store against the in-memory apiserver, timing under TestClock. */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Option, Random, Ref, Stream, TestClock } from "effect"
import {
  Backoff,
  KubeClient,
  type KubeError,
  type KubeObject,
  MemoryApiServer,
  Resource,
  Store,
  Transport,
  Watcher,
  type WatcherEvent
} from "../src/index.js"

const cm = (name: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "default", labels },
  data: { v: "1" }
})

/** Lets forked fibers run until they block. */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

const describeEvent = (e: WatcherEvent<KubeObject>) =>
  e._tag === "InitStart" || e._tag === "InitDone" ? e._tag : `${e._tag} ${e.object.metadata.name}`

const start = (options: Watcher.WatcherOptions = {}) =>
  Effect.gen(function* () {
    const events = yield* Ref.make<ReadonlyArray<string>>([])
    const errors = yield* Ref.make<ReadonlyArray<{ at: number; tag: string }>>([])
    const writer = yield* Store.make<KubeObject>({ label: (o) => Object.values(o.metadata.labels ?? {}) })
    const fiber = yield* Watcher.watch(Resource.ConfigMap, {
      namespace: "default",
      ...options,
      onError: (error: KubeError) =>
        Effect.flatMap(Clock.currentTimeMillis, (at) => Ref.update(errors, (es) => [...es, { at, tag: error._tag }]))
    }).pipe(
      Store.reflect(writer),
      Stream.runForEach((e) => Ref.update(events, (es) => [...es, describeEvent(e)])),
      Effect.forkScoped
    )
    yield* settle
    const take = Effect.gen(function* () {
      yield* settle
      const all = yield* Ref.getAndSet(events, [])
      return all
    })
    return { take, errors, store: writer.store, fiber }
  })

const count = (requests: ReadonlyArray<string>, verb: string) => requests.filter((r) => r.startsWith(verb)).length

describe("Watcher", () => {
  it.scoped("lists (marked InitStart…InitDone), then streams changes", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      yield* kube.create(Resource.ConfigMap, cm("a"))
      yield* kube.create(Resource.ConfigMap, cm("b"))
      const w = yield* start()
      expect(yield* w.take).toEqual(["InitStart", "InitApply a", "InitApply b", "InitDone"])
      yield* kube.create(Resource.ConfigMap, cm("c"))
      yield* kube.delete(Resource.ConfigMap, "a", { namespace: "default" })
      expect(yield* w.take).toEqual(["Apply c", "Delete a"])
      expect((yield* w.store.list).map((o) => o.metadata.name).sort()).toEqual(["b", "c"])
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.scoped("paginates the initial list", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* MemoryApiServer
      for (const n of ["a", "b", "c", "d", "e"]) yield* kube.create(Resource.ConfigMap, cm(n))
      const w = yield* start({ pageSize: 2 })
      expect((yield* w.take).length).toBe(7)
      expect(count(yield* memory.requests, "LIST")).toBe(3)
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.scoped("re-watches from the last version when the server ends the watch (290 s), without a relist", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* MemoryApiServer
      const w = yield* start()
      yield* w.take
      yield* kube.create(Resource.ConfigMap, cm("a"))
      expect(yield* w.take).toEqual(["Apply a"])
      yield* TestClock.adjust("289 seconds")
      expect(count(yield* memory.requests, "WATCH")).toBe(1)
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(count(yield* memory.requests, "WATCH")).toBe(2)
      expect(count(yield* memory.requests, "LIST")).toBe(1)
      // Nothing replayed, nothing lost.
      yield* kube.create(Resource.ConfigMap, cm("b"))
      expect(yield* w.take).toEqual(["Apply b"])
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.scoped("bookmarks move the resume point forward", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* MemoryApiServer
      const w = yield* start()
      yield* w.take
      // Changes this watch does not see (another namespace), then a bookmark, then a compaction.
      yield* kube.create(Resource.ConfigMap, {
        ...cm("elsewhere"),
        metadata: { name: "elsewhere", namespace: "other" }
      })
      yield* memory.bookmark
      yield* settle
      yield* memory.compact
      yield* TestClock.adjust("290 seconds")
      yield* settle
      // Resumed from the bookmark's version: no 410, no relist.
      expect(count(yield* memory.requests, "LIST")).toBe(1)
      expect(yield* Ref.get(w.errors)).toEqual([])
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.scoped("a silent watch is dropped after the idle timeout and resumed after a backoff", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* MemoryApiServer
      const w = yield* start({ idleTimeout: "60 seconds", backoff: { jitter: 0 } })
      yield* w.take
      yield* memory.setStalled(true)
      yield* kube.create(Resource.ConfigMap, cm("late"))
      yield* TestClock.adjust("59 seconds")
      expect(yield* Ref.get(w.errors)).toEqual([])
      yield* TestClock.adjust("1 second")
      yield* settle
      expect((yield* Ref.get(w.errors)).map((e) => e.tag)).toEqual(["Timeout"])
      yield* memory.setStalled(false)
      yield* TestClock.adjust("799 millis")
      expect(count(yield* memory.requests, "WATCH")).toBe(1)
      yield* TestClock.adjust("1 millis")
      yield* settle
      expect(count(yield* memory.requests, "WATCH")).toBe(2)
      // The event that the stalled connection swallowed arrives on the new watch.
      expect(yield* w.take).toEqual(["Apply late"])
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.scoped("410 after a compaction: lists again, and the store swaps in the new snapshot", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* MemoryApiServer
      yield* kube.create(Resource.ConfigMap, cm("a", { app: "x" }))
      yield* kube.create(Resource.ConfigMap, cm("b", { app: "x" }))
      const w = yield* start({ idleTimeout: "60 seconds", backoff: { jitter: 0 } })
      yield* w.take
      // The connection goes silent; meanwhile "a" is deleted and the history compacted.
      yield* memory.setStalled(true)
      yield* kube.delete(Resource.ConfigMap, "a", { namespace: "default" })
      yield* kube.create(Resource.ConfigMap, cm("c", { app: "x" }))
      yield* memory.compact
      yield* TestClock.adjust("60 seconds")
      yield* settle
      yield* memory.setStalled(false)
      yield* TestClock.adjust("800 millis")
      expect(yield* w.take).toEqual(["InitStart", "InitApply b", "InitApply c", "InitDone"])
      expect((yield* Ref.get(w.errors)).map((e) => e.tag)).toEqual(["Timeout", "Gone"])
      expect((yield* w.store.byIndex("label", "x")).map((o) => o.metadata.name).sort()).toEqual(["b", "c"])
      expect(Option.isNone(yield* w.store.get("default/a"))).toBe(true)
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.scoped("failures back off 0.8 s, 1.6 s, 3.2 s … and a broken watch resumes where it was", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* MemoryApiServer
      yield* memory.failNext(4, (request) => new Transport({ request, message: "connection refused" }))
      const w = yield* start({ backoff: { jitter: 0 } })
      for (const step of [800, 1600, 3200]) {
        yield* TestClock.adjust(step)
        yield* settle
      }
      expect((yield* Ref.get(w.errors)).map((e) => e.at)).toEqual([0, 800, 2400, 5600])
      expect(yield* w.take).toEqual([])
      yield* TestClock.adjust("6400 millis")
      expect(yield* w.take).toEqual(["InitStart", "InitDone"])
      yield* kube.create(Resource.ConfigMap, cm("a"))
      yield* memory.disconnectWatches
      yield* settle
      yield* kube.create(Resource.ConfigMap, cm("b"))
      // Within 120 s of the last failure the backoff keeps growing: 12.8 s.
      yield* TestClock.adjust("12799 millis")
      expect(yield* w.take).toEqual(["Apply a"])
      yield* TestClock.adjust("1 millis")
      expect(yield* w.take).toEqual(["Apply b"])
      expect(count(yield* memory.requests, "LIST")).toBe(5)
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )
  it.scoped("a transform (Store.trim) reaches every listed and watched object: no managedFields, no last-applied", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const annotated = (name: string, value: string): KubeObject => ({
        ...cm(name),
        metadata: {
          name,
          namespace: "default",
          annotations: { [Store.lastAppliedAnnotation]: JSON.stringify({ data: { v: value } }), keep: "yes" }
        }
      })
      // Server-side apply gives the stored objects managedFields.
      yield* kube.apply(Resource.ConfigMap, annotated("a", "1"), { fieldManager: "test" })
      const seen: Array<WatcherEvent<KubeObject>> = []
      yield* Watcher.watch(Resource.ConfigMap, { namespace: "default", transform: Store.trim }).pipe(
        Stream.runForEach((event) => Effect.sync(() => seen.push(event))),
        Effect.forkScoped
      )
      yield* settle
      yield* kube.apply(Resource.ConfigMap, annotated("b", "2"), { fieldManager: "test" })
      yield* kube.delete(Resource.ConfigMap, "a", { namespace: "default" })
      yield* settle
      const objects = seen.flatMap((event) => ("object" in event ? [event] : []))
      expect(objects.map(describeEvent)).toEqual(["InitApply a", "Apply b", "Delete a"])
      // Without the transform the same objects carry both.
      const raw = yield* kube.get(Resource.ConfigMap, "b", { namespace: "default" })
      expect(raw.metadata.managedFields).toBeDefined()
      expect(raw.metadata.annotations?.[Store.lastAppliedAnnotation]).toBeDefined()
      for (const event of objects) {
        expect(event.object.metadata.managedFields).toBeUndefined()
        expect(event.object.metadata.annotations).toEqual({ keep: "yes" })
        expect(event.object.data).toEqual({ v: "1" })
      }
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )
})

describe("Backoff", () => {
  it.effect("grows ×2 from 0.8 s to a 30 s cap, jittered within [d/2, d], and resets after 120 s", () =>
    Effect.gen(function* () {
      const backoff = yield* Backoff.make()
      const delays: Array<number> = []
      for (let i = 0; i < 8; i++) delays.push(Duration.toMillis(yield* backoff.next))
      const bases = [800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]
      delays.forEach((d, i) => {
        expect(d).toBeGreaterThanOrEqual(bases[i]! / 2)
        expect(d).toBeLessThanOrEqual(bases[i]!)
      })
      yield* TestClock.adjust("119 seconds")
      expect(Duration.toMillis(yield* backoff.next)).toBeGreaterThanOrEqual(15000)
      yield* TestClock.adjust("151 seconds")
      expect(Duration.toMillis(yield* backoff.next)).toBeLessThanOrEqual(800)
    }).pipe(Effect.withRandom(Random.make("seed")))
  )
})

describe("Store", () => {
  it.effect("swaps a relist in atomically, strips managedFields, indexes", () =>
    Effect.gen(function* () {
      const writer = yield* Store.make<KubeObject>({ owner: Store.indexers.ownerUid })
      const owned = (name: string, uid: string): KubeObject => ({
        ...cm(name),
        metadata: {
          name,
          namespace: "default",
          ownerReferences: [{ apiVersion: "v1", kind: "X", name: "o", uid, controller: true }],
          managedFields: [{ manager: "m" }]
        }
      })
      expect(yield* writer.store.isReady).toBe(false)
      yield* writer.apply({ _tag: "InitStart" })
      yield* writer.apply({ _tag: "InitApply", object: owned("a", "u1") })
      yield* writer.apply({ _tag: "InitDone", resourceVersion: "1" })
      yield* writer.store.ready
      const a = Option.getOrThrow(yield* writer.store.get("default/a"))
      expect(a.metadata.managedFields).toBeUndefined()
      yield* writer.apply({ _tag: "Apply", object: owned("b", "u1") })
      expect((yield* writer.store.byIndex("owner", "u1")).length).toBe(2)
      // A relist in progress does not show until it is done.
      yield* writer.apply({ _tag: "InitStart" })
      yield* writer.apply({ _tag: "InitApply", object: owned("c", "u2") })
      expect((yield* writer.store.list).map((o) => o.metadata.name).sort()).toEqual(["a", "b"])
      yield* writer.apply({ _tag: "InitDone", resourceVersion: "2" })
      expect((yield* writer.store.list).map((o) => o.metadata.name)).toEqual(["c"])
      expect(yield* writer.store.byIndex("owner", "u1")).toEqual([])
      expect((yield* writer.store.byIndex("owner", "u2")).length).toBe(1)
      yield* writer.apply({ _tag: "Delete", object: owned("c", "u2") })
      expect(yield* writer.store.byIndex("owner", "u2")).toEqual([])
    })
  )
})

describe("Store.trim", () => {
  it("drops managedFields and the last-applied annotation, keeps other annotations, and leaves lean objects alone", () => {
    const lean = cm("lean")
    expect(Store.trim(lean)).toBe(lean)
    const only = Store.trim<KubeObject>({
      ...cm("only"),
      metadata: { name: "only", annotations: { [Store.lastAppliedAnnotation]: "{}" }, managedFields: [{}] }
    })
    expect(only.metadata).toEqual({ name: "only" })
    const mixed = Store.trim<KubeObject>({
      ...cm("mixed"),
      metadata: { name: "mixed", annotations: { [Store.lastAppliedAnnotation]: "{}", a: "1" }, labels: { l: "2" } }
    })
    expect(mixed.metadata).toEqual({ name: "mixed", annotations: { a: "1" }, labels: { l: "2" } })
    expect(mixed.data).toEqual({ v: "1" })
  })
})
