/**
 * Watcher + Store against real apiservers: an etcd compaction while disconnected (a real 410, then a
 * relist), an apiserver restart mid-watch, and a silent stall (the idle timeout fires, the watch recovers).
 */

import { KubeClient, type KubeError, type KubeObject, Resource, Store, Watcher } from "@convex-operator/k8s"
import { expect, layer } from "@effect/vitest"
import { type Duration, Effect, Layer, Ref, Schedule, Stream } from "effect"
import { ContractHarness } from "../../../packages/k8s/test/contract/harness.js"
import { compactionSuite } from "../../../packages/k8s/test/contract/suite.js"
import { LocalCluster } from "../../cluster/local-cluster.js"
import { clusterLayerOptions } from "../support.js"
import { extraApiserver } from "./apiserver.js"
import { stallingProxy } from "./proxy.js"
import { compactEtcd, liveClient } from "./support.js"

const ns = "default"
const cm = (name: string, run: string): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: `${run}-${name}`, namespace: ns, labels: { run } },
  data: {}
})

/** A Watcher-fed Store on `server`, recording the failures it recovered from. */
const watchThrough = (server: string, run: string, options: Watcher.WatcherOptions = {}) =>
  Effect.gen(function* () {
    const cluster = yield* LocalCluster
    const errors = yield* Ref.make<ReadonlyArray<string>>([])
    const relists = yield* Ref.make(0)
    const writer = yield* Store.make<KubeObject>()
    const client = KubeClient.layerLive({
      source: { _tag: "Explicit", server, ca: cluster.ca, cert: cluster.cert, key: cluster.key },
      rateLimit: false
    })
    yield* Watcher.watch(Resource.ConfigMap, {
      namespace: ns,
      labelSelector: `run=${run}`,
      backoff: { initial: "100 millis", max: "1 second" },
      onError: (error: KubeError) => Ref.update(errors, (es) => [...es, error._tag]),
      ...options
    }).pipe(
      Store.reflect(writer),
      Stream.tap((e) => (e._tag === "InitDone" ? Ref.update(relists, (n) => n + 1) : Effect.void)),
      Stream.runDrain,
      Effect.provide(client),
      Effect.forkScoped
    )
    yield* writer.store.ready.pipe(Effect.timeout("20 seconds"))
    const names = Effect.map(writer.store.list, (items) =>
      items.map((o) => (o.metadata.name ?? "").slice(run.length + 1)).sort()
    )
    return { names, errors: Ref.get(errors), lists: Ref.get(relists) }
  })

const eventually = <A, E, R>(check: Effect.Effect<A, E, R>, timeout: Duration.DurationInput = "30 seconds") =>
  check.pipe(Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo(timeout))))

const expectNames = (names: Effect.Effect<ReadonlyArray<string | undefined>>, expected: ReadonlyArray<string>) =>
  eventually(
    Effect.flatMap(names, (actual) =>
      JSON.stringify(actual) === JSON.stringify(expected)
        ? Effect.void
        : Effect.fail(new Error(`store has ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`))
    )
  )

layer(Layer.provideMerge(liveClient(), LocalCluster.layer({ components: "apiserver" })), clusterLayerOptions)(
  "Watcher against a real apiserver",
  (it) => {
    // The contract's history part needs an apiserver that reads etcd directly (no watch cache).
    const noWatchCache = Layer.unwrapScoped(
      Effect.gen(function* () {
        const cluster = yield* LocalCluster
        const apiserver = yield* extraApiserver(cluster, { watchCache: false })
        return Layer.merge(
          KubeClient.layerLive({
            source: {
              _tag: "Explicit",
              server: apiserver.server,
              ca: cluster.ca,
              cert: cluster.cert,
              key: cluster.key
            },
            rateLimit: false
          }),
          Layer.succeed(ContractHarness, {
            compact: Effect.asVoid(compactEtcd(cluster.etcdUrl)),
            name: "no-watch-cache"
          })
        )
      })
    )
    it.layer(noWatchCache, { timeout: "60 seconds" })(
      "KubeClient contract: history (apiserver without watch cache)",
      (it) => compactionSuite(it)
    )

    it.scoped(
      "etcd compaction while the apiserver is down: the resumed watch gets 410 and the watcher lists again",
      () =>
        Effect.gen(function* () {
          const kube = yield* KubeClient
          const cluster = yield* LocalCluster
          // No watch cache: the watch reads etcd's history, which the compaction removes.
          const apiserver = yield* extraApiserver(cluster, { watchCache: false })
          const run = "compaction"
          yield* kube.create(Resource.ConfigMap, cm("a", run))
          yield* kube.create(Resource.ConfigMap, cm("b", run))
          const w = yield* watchThrough(apiserver.server, run)
          yield* expectNames(w.names, ["a", "b"])
          yield* kube.create(Resource.ConfigMap, cm("c", run))
          yield* expectNames(w.names, ["a", "b", "c"])
          const started = Date.now()
          yield* apiserver.stop
          yield* kube.delete(Resource.ConfigMap, `${run}-a`, { namespace: ns })
          yield* kube.create(Resource.ConfigMap, cm("d", run))
          const revision = yield* compactEtcd(cluster.etcdUrl)
          yield* apiserver.start
          yield* expectNames(w.names, ["b", "c", "d"])
          const errors = yield* w.errors
          console.log(
            `[k8s] compaction at etcd revision ${revision}: recovered in ${Date.now() - started} ms (incl. restart); failures: ${errors.join(", ")}; lists: ${yield* w.lists}`
          )
          expect(errors).toContain("Gone")
          expect(yield* w.lists).toBe(2)
        })
    )

    it.scoped("an apiserver restart mid-watch: the watcher backs off, reconnects and misses nothing", () =>
      Effect.gen(function* () {
        const kube = yield* KubeClient
        const cluster = yield* LocalCluster
        const apiserver = yield* extraApiserver(cluster, { watchCache: true })
        const run = "restart"
        yield* kube.create(Resource.ConfigMap, cm("a", run))
        const w = yield* watchThrough(apiserver.server, run)
        yield* expectNames(w.names, ["a"])
        const started = Date.now()
        yield* apiserver.stop
        yield* kube.create(Resource.ConfigMap, cm("b", run))
        yield* kube.delete(Resource.ConfigMap, `${run}-a`, { namespace: ns })
        yield* apiserver.start
        yield* kube.create(Resource.ConfigMap, cm("c", run))
        yield* expectNames(w.names, ["b", "c"])
        const errors = yield* w.errors
        console.log(
          `[k8s] apiserver restart: recovered in ${Date.now() - started} ms (incl. restart); failures: ${errors.join(", ")}; lists: ${yield* w.lists}`
        )
        expect(errors.some((e) => e === "Transport")).toBe(true)
      })
    )

    it.scoped("a silent stall: the idle timeout drops the dead watch and a new one catches up", () =>
      Effect.gen(function* () {
        const kube = yield* KubeClient
        const cluster = yield* LocalCluster
        const proxy = yield* stallingProxy(cluster.server)
        const run = "stall"
        yield* kube.create(Resource.ConfigMap, cm("a", run))
        const w = yield* watchThrough(proxy.server, run, { idleTimeout: "2 seconds" })
        yield* expectNames(w.names, ["a"])
        const started = Date.now()
        yield* proxy.freeze
        yield* kube.create(Resource.ConfigMap, cm("b", run))
        yield* eventually(
          Effect.flatMap(w.errors, (errors) =>
            errors.includes("Timeout") ? Effect.void : Effect.fail("no timeout yet")
          )
        )
        const detected = Date.now() - started
        yield* proxy.thaw
        yield* expectNames(w.names, ["a", "b"])
        console.log(
          `[k8s] silent stall: idle timeout after ${detected} ms, caught up after ${Date.now() - started} ms; failures: ${(yield* w.errors).join(", ")}`
        )
        expect(detected).toBeGreaterThanOrEqual(1900)
        expect(yield* w.lists).toBe(1)
      })
    )
  }
)
