/**
 * What the cache reads of Secrets and ConfigMaps: the operator's own by label, and the ones instances reference by
 * name (a list and watch with `metadata.name=<name>` in the instance's namespace). A Secret no instance names is
 * never listed, watched or kept; a change to a referenced one wakes the instances naming it; a reference dropped
 * stops its watch. Every cached object is trimmed (no managedFields, no last-applied annotation).
 */
import {
  KubeClient,
  type KubeObject,
  type ListOptions,
  MemoryApiServer,
  Resource,
  Store,
  type WatchOptions
} from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeCache } from "../src/controllers/instance/cache.js"
import { ConvexInstances } from "../src/shell/resources.js"

const namespace = "apps"
const key = Resource.key(namespace, "demo")
const managedLabels = { "app.kubernetes.io/managed-by": "convex-operator", "app.kubernetes.io/instance": "demo" }

const secret = (name: string, data: Record<string, string>, labels?: Record<string, string>): KubeObject =>
  ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      namespace,
      ...(labels === undefined ? {} : { labels }),
      annotations: { [Store.lastAppliedAnnotation]: JSON.stringify({ data }) }
    },
    data
  }) as KubeObject

const instance = (secretName: string): KubeObject =>
  ({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name: "demo", namespace },
    spec: {
      environment: "dev",
      version: "1111111111111111111111111111111111111111",
      backend: {
        env: [
          { name: "FROM_SECRET", valueFrom: { secretKeyRef: { name: secretName, key: "url" } } },
          { name: "FROM_CONFIG", valueFrom: { configMapKeyRef: { name: "extra", key: "k" } } }
        ]
      }
    }
  }) as KubeObject

const urlOf = (object: KubeObject | undefined) => (object?.data as { url?: string } | undefined)?.url

/** Lets the watch fibers run until `check` holds. */
const until = (what: string, check: () => boolean) =>
  Effect.gen(function* () {
    for (let i = 0; i < 5000; i++) {
      if (check()) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.die(new Error(`never: ${what}`))
  })

/** The in-memory client, recording each list and watch of Secrets and ConfigMaps with its selectors. */
const recording = (kube: KubeClient["Type"]) => {
  const reads: Array<string> = []
  const describe = (verb: string, kind: string, options: ListOptions | WatchOptions | undefined) =>
    `${verb} ${kind} ns=${options?.namespace ?? "*"} label=${options?.labelSelector ?? ""} field=${options?.fieldSelector ?? ""}`
  const client: KubeClient["Type"] = {
    ...kube,
    list: (resource, options) => {
      if (resource.kind === "Secret" || resource.kind === "ConfigMap")
        reads.push(describe("list", resource.kind, options))
      return kube.list(resource, options)
    },
    watch: (resource, options) => {
      if (resource.kind === "Secret" || resource.kind === "ConfigMap")
        reads.push(describe("watch", resource.kind, options))
      return kube.watch(resource, options)
    },
    get: (resource, name, options) => {
      if (resource.kind === "Secret" || resource.kind === "ConfigMap") reads.push(`get ${resource.kind} ${name}`)
      return kube.get(resource, name, options)
    }
  }
  return { client, reads }
}

describe("the cache's Secrets and ConfigMaps", () => {
  it.scoped("reads only the operator's own (by label) and the referenced ones (by name), and follows changes", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      for (let i = 0; i < 5; i++) yield* kube.create(Resource.Secret, secret(`tenant-${i}`, { password: "hunter2" }))
      yield* kube.create(Resource.Secret, secret("demo-convex-secrets", { "admin-key": "x" }, managedLabels))
      yield* kube.create(Resource.Secret, secret("pg", { url: "cG9zdGdyZXM6Ly92MQ==" }))
      yield* kube.create(Resource.Secret, secret("pg2", { url: "cG9zdGdyZXM6Ly92Mg==" }))
      yield* kube.create(Resource.ConfigMap, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "extra", namespace },
        data: { k: "v" }
      })
      yield* kube.create(ConvexInstances, instance("pg"))
      const recorded = recording(kube)
      const triggered: Array<string> = []
      const cache = yield* makeCache({
        namespace,
        trigger: (k) => Effect.sync(() => void triggered.push(k))
      }).pipe(Effect.provideService(KubeClient, recorded.client))
      yield* cache.ready
      const secrets = cache.store("Secret")
      const names = () =>
        secrets
          .unsafeList()
          .map((o) => o.metadata.name)
          .sort()
      yield* until("the referenced Secret", () => secrets.unsafeGet(Resource.key(namespace, "pg")) !== undefined)
      yield* until(
        "the referenced ConfigMap",
        () => cache.store("ConfigMap").unsafeGet(Resource.key(namespace, "extra")) !== undefined
      )
      expect(names()).toEqual(["demo-convex-secrets", "pg"])
      for (const object of secrets.unsafeList()) {
        expect(object.metadata.annotations?.[Store.lastAppliedAnnotation]).toBeUndefined()
        expect(object.metadata.managedFields).toBeUndefined()
      }
      // The managed-by label for the operator's own; the name for the referenced ones; nothing else.
      const managed = "label=app.kubernetes.io/managed-by=convex-operator field="
      expect([...new Set(recorded.reads)].sort()).toEqual(
        [
          `list ConfigMap ns=apps ${managed}`,
          "list ConfigMap ns=apps label= field=metadata.name=extra",
          `list Secret ns=apps ${managed}`,
          "list Secret ns=apps label= field=metadata.name=pg",
          `watch ConfigMap ns=apps ${managed}`,
          "watch ConfigMap ns=apps label= field=metadata.name=extra",
          `watch Secret ns=apps ${managed}`,
          "watch Secret ns=apps label= field=metadata.name=pg"
        ].sort()
      )

      // A rotated Secret wakes the instance and replaces the cached copy.
      // Triggers are de-duplicated runs of the controller's queue: let the last ones finish first.
      yield* Effect.repeatN(Effect.yieldNow(), 200)
      triggered.length = 0
      yield* kube.patch(Resource.Secret, "pg", { data: { url: "cm90YXRlZA==" } }, { namespace, type: "merge" })
      yield* until("the rotation", () => urlOf(secrets.unsafeGet(Resource.key(namespace, "pg"))) === "cm90YXRlZA==")
      yield* until("the instance woken", () => triggered.includes(key))
      // An unrelated Secret's change wakes nobody.
      // Triggers are de-duplicated runs of the controller's queue: let the last ones finish first.
      yield* Effect.repeatN(Effect.yieldNow(), 200)
      triggered.length = 0
      yield* kube.patch(Resource.Secret, "tenant-1", { data: { password: "c2VjcmV0" } }, { namespace, type: "merge" })
      yield* kube.patch(Resource.Secret, "pg2", { data: { url: "eA==" } }, { namespace, type: "merge" })
      yield* Effect.repeatN(Effect.yieldNow(), 200)
      expect(triggered).toEqual([])

      // The instance switches to pg2: pg is dropped, pg2 is watched and kept.
      recorded.reads.length = 0
      yield* kube.replace(ConvexInstances, {
        ...(yield* kube.get(ConvexInstances, "demo", { namespace })),
        spec: instance("pg2").spec
      })
      yield* until("the switch", () => names().join() === "demo-convex-secrets,pg2")
      expect(recorded.reads).toContain("watch Secret ns=apps label= field=metadata.name=pg2")
      // Triggers are de-duplicated runs of the controller's queue: let the last ones finish first.
      yield* Effect.repeatN(Effect.yieldNow(), 200)
      triggered.length = 0
      yield* kube.patch(Resource.Secret, "pg", { data: { url: "eQ==" } }, { namespace, type: "merge" })
      yield* Effect.repeatN(Effect.yieldNow(), 200)
      expect(triggered).toEqual([])

      // Deleting a referenced Secret wakes the instance; deleting the instance drops every reference.
      yield* kube.delete(Resource.Secret, "pg2", { namespace })
      yield* until("the deletion", () => secrets.unsafeGet(Resource.key(namespace, "pg2")) === undefined)
      yield* until("the instance woken", () => triggered.includes(key))
      yield* kube.create(Resource.Secret, secret("pg2", { url: "eg==" }))
      yield* until("the re-creation", () => secrets.unsafeGet(Resource.key(namespace, "pg2")) !== undefined)
      const memory = yield* MemoryApiServer
      const watchesBefore = yield* memory.openWatches
      yield* kube.delete(ConvexInstances, "demo", { namespace })
      yield* until("no references", () => names().join() === "demo-convex-secrets")
      yield* until("no referenced ConfigMap", () => cache.store("ConfigMap").unsafeList().length === 0)
      // Both by-name watches are closed (the instance, managed and other child watches stay).
      yield* until("two watches fewer", () => Effect.runSync(memory.openWatches) === watchesBefore - 2)
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.scoped("an object read directly stands in until its watch has listed, and is ignored once it has", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      yield* kube.create(Resource.Secret, secret("pg", { url: "djE=" }))
      yield* kube.create(ConvexInstances, instance("pg"))
      const cache = yield* makeCache({ namespace, trigger: () => Effect.void })
      yield* cache.ready
      const secrets = cache.store("Secret")
      const pg = Resource.key(namespace, "pg")
      yield* until("the watch listed", () => secrets.unsafeGet(pg) !== undefined)
      // A stale read after the watch has listed does not overwrite what the watch says.
      const stale = { ...secret("pg", { url: "c3RhbGU=" }), metadata: { name: "pg", namespace, resourceVersion: "1" } }
      yield* cache.remember(stale as KubeObject)
      expect(secrets.unsafeGet(pg)?.data).toEqual({ url: "djE=" })
      // An object nobody references is not kept.
      yield* cache.remember(secret("tenant", { password: "aHVudGVyMg==" }))
      expect(secrets.unsafeGet(Resource.key(namespace, "tenant"))).toBeUndefined()
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )
})
