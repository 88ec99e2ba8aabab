/**
 * A relist of a child kind wakes the instances whose children it changed. A watch that cannot resume (410 Gone, as
 * after an apiserver restart or an etcd compaction) lists again; whatever changed while it was down reaches the
 * cache only through that list, and no watch event will announce it later. If the instance's own watch resumed
 * without a relist (or relisted earlier), nothing else wakes the instance, and it waits on a stale view for good.
 */
import { Gone, KubeClient, type KubeObject, MemoryApiServer, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream, TestClock } from "effect"
import { makeCache } from "../src/controllers/instance/cache.js"
import { ConvexInstances } from "../src/shell/resources.js"

const namespace = "apps"
const key = Resource.key(namespace, "demo")

const statefulSet = (revision: string): KubeObject =>
  ({
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: {
      name: "demo-backend",
      namespace,
      labels: { "app.kubernetes.io/managed-by": "convex-operator", "app.kubernetes.io/instance": "demo" }
    },
    spec: { selector: { matchLabels: { app: "demo" } }, template: { metadata: { labels: { app: "demo" } } } },
    status: { currentRevision: revision, updateRevision: revision }
  }) as KubeObject

/** Lets the watch fibers run until `check` holds. */
const until = (what: string, check: () => boolean) =>
  Effect.gen(function* () {
    for (let i = 0; i < 2000; i++) {
      if (check()) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.die(new Error(`never: ${what}`))
  })

/** The in-memory client, except that the next `goneWatches` StatefulSet watches answer 410 Gone at once. */
const goneOnce = (kube: KubeClient["Type"]) => {
  let goneWatches = 0
  let lists = 0
  const client: KubeClient["Type"] = {
    ...kube,
    list: (resource, options) => {
      if (resource.kind === "StatefulSet") lists++
      return kube.list(resource, options)
    },
    watch: (resource, options) =>
      resource.kind === "StatefulSet" && goneWatches > 0
        ? Stream.suspend(() => {
            goneWatches--
            return Stream.fail(new Gone({ request: "WATCH statefulsets", message: "too old resource version" }))
          })
        : kube.watch(resource, options)
  }
  const arm = () => {
    goneWatches = 1
  }
  return { client, arm, lists: () => lists }
}

describe("the cache after a relist", () => {
  it.scoped("wakes an instance whose child changed while the child's watch was down", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      yield* kube.create(ConvexInstances, {
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexInstance",
        metadata: { name: "demo", namespace },
        spec: { environment: "dev", version: "1111111111111111111111111111111111111111" }
      } as KubeObject)
      yield* kube.create(Resource.StatefulSet, statefulSet("rev-1"))
      const gone = goneOnce(kube)
      const triggered: Array<string> = []
      const cache = yield* makeCache({
        namespace,
        trigger: (k) => Effect.sync(() => void triggered.push(k))
      }).pipe(Effect.provideService(KubeClient, gone.client))
      yield* cache.ready
      const stored = () => cache.store("StatefulSet").unsafeGet(Resource.key(namespace, "demo-backend"))
      yield* until("the StatefulSet", () => stored() !== undefined)

      // Every watch breaks; the StatefulSet changes while they are down; the StatefulSet watch then cannot resume.
      const memory = yield* MemoryApiServer
      const opened = () => Effect.runSync(memory.requests).filter((request) => request.startsWith("WATCH "))
      yield* until(
        "the watches open",
        () => opened().includes("WATCH statefulsets apps") && Effect.runSync(memory.openWatches) === opened().length
      )
      yield* memory.disconnectWatches
      yield* Effect.repeatN(Effect.yieldNow(), 50)
      yield* kube.patchStatus(
        Resource.StatefulSet,
        "demo-backend",
        { currentRevision: "rev-2", updateRevision: "rev-2" },
        { namespace }
      )
      gone.arm()
      triggered.length = 0
      const listsBefore = gone.lists()
      for (let i = 0; i < 6; i++) {
        yield* Effect.repeatN(Effect.yieldNow(), 50)
        yield* TestClock.adjust("10 seconds")
      }
      yield* until(
        "the StatefulSet relisted",
        () =>
          gone.lists() > listsBefore &&
          (stored() as { status?: { currentRevision?: string } } | undefined)?.status?.currentRevision === "rev-2"
      )
      yield* Effect.repeatN(Effect.yieldNow(), 50)

      // The instance's own watch resumed without a relist (nothing of it changed): only the relist can wake it.
      expect(triggered).toEqual([key])
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )
})
