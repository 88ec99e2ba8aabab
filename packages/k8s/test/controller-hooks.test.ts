/** Controller optional kinds, extra trigger sources and primary hooks, against the memory apiserver under TestClock. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Queue, Ref, Stream, TestClock } from "effect"
import {
  Action,
  Controller,
  Gone,
  KubeClient,
  type KubeObject,
  MemoryApiServer,
  Metrics,
  Resource
} from "../src/index.js"
import { Gizmo } from "./contract/harness.js"

const settle = Effect.repeatN(Effect.yieldNow(), 100)
const layer = Layer.mergeAll(KubeClient.layerMemory(), Metrics.Metrics.layer)
const ns = "default"

const gizmo = (name: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: Gizmo.apiVersion,
  kind: Gizmo.kind,
  metadata: { name, namespace: ns, labels },
  spec: {}
})
const secret = (name: string, instance: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name, namespace: ns, labels: { instance } },
  stringData: { value: "a" }
})
const byInstanceLabel = (object: KubeObject) => {
  const instance = object.metadata.labels?.instance
  return instance === undefined ? [] : [Resource.key(object.metadata.namespace, instance)]
}

describe("Controller hooks", () => {
  it.scoped(
    "an optional kind is watched once served: readiness does not wait for it, isServed says so, then every primary is woken",
    () =>
      Effect.gen(function* () {
        const kube = yield* KubeClient
        const memory = yield* MemoryApiServer
        yield* kube.create(Gizmo, gizmo("g1"))
        yield* kube.create(Gizmo, gizmo("g2"))
        yield* kube.create(Resource.Secret, secret("s1", "g1"))
        const served = yield* Ref.make(false)
        const seen = yield* Ref.make<ReadonlyArray<string>>([])
        const controller = yield* Controller.make({
          name: "optional",
          resource: Gizmo,
          resyncPeriod: false,
          watches: [
            {
              resource: Resource.Secret,
              map: byInstanceLabel,
              optional: { served: Ref.get(served), recheck: "10 seconds" }
            }
          ],
          reconcile: (_, ctx) =>
            Effect.as(
              Ref.update(seen, (s) => [
                ...s,
                `${ctx.key} served=${ctx.isServed(Resource.Secret)} secrets=${ctx.store(Resource.Secret).unsafeList().length}`
              ]),
              Action.awaitChange
            )
        })
        yield* controller.ready
        yield* settle
        expect(yield* controller.isReady).toBe(true)
        expect(controller.isServed(Resource.Secret)).toBe(false)
        expect([...(yield* Ref.getAndSet(seen, []))].sort()).toEqual([
          "default/g1 served=false secrets=0",
          "default/g2 served=false secrets=0"
        ])
        expect((yield* memory.requests).filter((r) => /^(LIST|WATCH) secrets/.test(r))).toEqual([])

        // Still not served at the next check: nothing happens.
        yield* TestClock.adjust("10 seconds")
        yield* settle
        expect(yield* Ref.get(seen)).toEqual([])
        // Served at the check after: watched, listed, then every primary woken and seeing it.
        yield* Ref.set(served, true)
        yield* TestClock.adjust("10 seconds")
        yield* settle
        expect(controller.isServed(Resource.Secret)).toBe(true)
        expect(yield* controller.isReady).toBe(true)
        expect([...(yield* Ref.getAndSet(seen, []))].sort()).toEqual([
          "default/g1 served=true secrets=1",
          "default/g2 served=true secrets=1"
        ])
        // From now on it triggers like any mapped kind.
        yield* kube.patch(Resource.Secret, "s1", { stringData: { value: "b" } }, { namespace: ns, type: "merge" })
        yield* settle
        expect(yield* Ref.get(seen)).toEqual(["default/g1 served=true secrets=1"])
      }).pipe(Effect.provide(layer))
  )

  it.scoped("an optional kind served at start is watched at once and waited for; the default check lists it", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* MemoryApiServer
      yield* kube.create(Gizmo, gizmo("g1"))
      yield* kube.create(Resource.Secret, secret("s1", "g1"))
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const controller = yield* Controller.make({
        name: "optional-served",
        resource: Gizmo,
        resyncPeriod: false,
        watches: [{ resource: Resource.Secret, map: byInstanceLabel, optional: {} }],
        reconcile: (_, ctx) =>
          Effect.as(
            Ref.update(seen, (s) => [
              ...s,
              `served=${ctx.isServed(Resource.Secret)} secrets=${ctx.store(Resource.Secret).unsafeList().length}`
            ]),
            Action.awaitChange
          )
      })
      yield* controller.ready
      yield* settle
      expect(yield* Ref.get(seen)).toEqual(["served=true secrets=1"])
      const requests = yield* memory.requests
      expect(requests.filter((r) => /^(LIST|WATCH) secrets/.test(r))).toEqual([
        "LIST secrets",
        "LIST secrets",
        "WATCH secrets"
      ])
    }).pipe(Effect.provide(layer))
  )

  it.scoped("a source triggers primaries; onPrimary sees every change first; alsoTrigger wakes other primaries", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* MemoryApiServer
      yield* kube.create(Gizmo, gizmo("g1"))
      yield* kube.create(Gizmo, gizmo("waiting", { waits: "yes" }))
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const note = (line: string) => Ref.update(log, (l) => [...l, line])
      const pokes = yield* Queue.unbounded<string>()
      const controller = yield* Controller.make({
        name: "hooks",
        resource: Gizmo,
        resyncPeriod: false,
        // The primaries' watch is trusted for an hour, so that a forced 410 is the only relist.
        watcher: { idleTimeout: "1 hour" },
        sources: [
          ({ trigger, primaries }) =>
            Stream.fromQueue(pokes).pipe(
              Stream.runForEach((name) =>
                primaries.unsafeGet(Resource.key(ns, name)) === undefined
                  ? Effect.void
                  : trigger(Resource.key(ns, name))
              ),
              Effect.forkScoped,
              Effect.asVoid
            )
        ],
        onPrimary: (change) => note(`${change._tag} ${change.object.metadata.name}`),
        alsoTrigger: (change, primaries) =>
          change.object.metadata.labels?.waits === "yes"
            ? []
            : primaries
                .unsafeList()
                .filter((o) => o.metadata.labels?.waits === "yes")
                .map(Resource.keyOf),
        reconcile: (object) => Effect.as(note(`reconcile ${object.metadata.name}`), Action.awaitChange)
      })
      yield* controller.ready
      yield* settle
      const take = Effect.map(Ref.getAndSet(log, []), (l) => [...l])
      expect(yield* take).toEqual(["Apply g1", "Apply waiting", "reconcile g1", "reconcile waiting"])

      // A source's trigger reconciles the key it names.
      yield* Queue.offer(pokes, "g1")
      yield* settle
      expect(yield* take).toEqual(["reconcile g1"])

      // A change of g1: onPrimary first, then g1 and the waiting primary are reconciled; a change of the waiting one alone.
      yield* kube.patch(Gizmo, "g1", { spec: { size: 2 } }, { namespace: ns, type: "merge" })
      yield* settle
      expect(yield* take).toEqual(["Apply g1", "reconcile g1", "reconcile waiting"])
      yield* kube.patch(Gizmo, "waiting", { spec: { size: 2 } }, { namespace: ns, type: "merge" })
      yield* settle
      expect(yield* take).toEqual(["Apply waiting", "reconcile waiting"])

      // A deletion: onPrimary sees it, the waiting primary is woken.
      yield* kube.delete(Gizmo, "g1", { namespace: ns })
      yield* settle
      expect(yield* take).toEqual(["Delete g1", "reconcile waiting"])

      // A relist reports what vanished as a Delete and every object as an Apply.
      yield* kube.create(Gizmo, gizmo("g2"))
      yield* settle
      yield* take
      // The watch breaks before it delivers g2's deletion, and its resumption answers 410.
      yield* memory.setStalled(true)
      yield* memory.disconnectWatches
      yield* kube.delete(Gizmo, "g2", { namespace: ns })
      yield* memory.failNext(1, (request) => new Gone({ request, message: "too old resource version" }))
      yield* memory.setStalled(false)
      yield* TestClock.adjust("5 seconds")
      yield* settle
      expect(yield* take).toEqual(["Delete g2", "Apply waiting", "reconcile waiting"])
    }).pipe(Effect.provide(layer))
  )
})
