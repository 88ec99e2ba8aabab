/**
 * Two instances called `app` in two namespaces, whose URL Secrets name the same Postgres server: the older keeps the
 * database and runs, the later one is held (no backend StatefulSet) with Ready=False naming the older instance and
 * spec.backend.db.databaseName, and one Warning event. Deleting the older one wakes the held one, which then starts.
 */
import { SecretGenerator } from "@convex-operator/core"
import {
  EventRecorder,
  KubeClient,
  type KubeObject,
  type ObjectKey,
  RecordedEvents,
  Resource
} from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { makeCache } from "../src/controllers/instance/cache.js"
import { databaseClaimOf } from "../src/controllers/instance/database-claims.js"
import { InstanceCache } from "../src/controllers/instance/instance-cache.js"
import { reconcile } from "../src/controllers/instance/reconcile.js"
import { ConvexInstances } from "../src/shell/resources.js"

const layers = Layer.mergeAll(KubeClient.layerMemory(), EventRecorder.layerTest, SecretGenerator.layerTest(7))
const settings = { operatorImage: "registry.example/convex-operator:test" }

const urlSecret = (namespace: string, url: string): KubeObject =>
  ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "pg", namespace },
    data: { url: Buffer.from(url).toString("base64") }
  }) as KubeObject

const app = (namespace: string, databaseName?: string): KubeObject =>
  ({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name: "app", namespace },
    spec: {
      environment: "dev",
      version: "1111111111111111111111111111111111111111",
      backend: {
        db: {
          engine: "postgres",
          secretRef: "pg",
          urlKey: "url",
          ...(databaseName === undefined ? {} : { databaseName })
        },
        storage: { mode: "external" }
      }
    }
  }) as unknown as KubeObject

const until = (what: string, check: () => boolean) =>
  Effect.gen(function* () {
    for (let i = 0; i < 2000; i++) {
      if (check()) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.die(new Error(`never saw ${what}`))
  })

// biome-ignore lint/suspicious/noExplicitAny: the test reads stored objects
type Json = { readonly [key: string]: any }
const ready = (object: KubeObject): Json | undefined =>
  ((object as unknown as Json).status?.conditions as ReadonlyArray<Json> | undefined)?.find((c) => c.type === "Ready")

describe("two instances on one database", () => {
  it.scoped("hold the later one, naming the older and the field, and release it when the older goes", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const shared = "postgres://convex:hunter2@PG.shared.svc:5432?sslmode=require"
      yield* kube.create(Resource.Secret, urlSecret("team-a", shared))
      yield* kube.create(Resource.Secret, urlSecret("team-b", "postgres://convex:hunter2@pg.shared.svc"))
      yield* kube.create(ConvexInstances, app("team-a"))
      yield* TestClock.adjust("1 second")
      yield* kube.create(ConvexInstances, app("team-b"))

      const triggered: Array<ObjectKey> = []
      const cache = yield* makeCache({
        namespace: undefined,
        trigger: (key) => Effect.sync(() => void triggered.push(key))
      })
      yield* cache.ready
      const a = Resource.key("team-a", "app")
      const b = Resource.key("team-b", "app")
      const secretOf = (namespace: string, name: string) =>
        cache.store("Secret").unsafeGet(Resource.key(namespace, name))
      yield* until(
        "both URL Secrets",
        () => secretOf("team-a", "pg") !== undefined && secretOf("team-b", "pg") !== undefined
      )
      const claim = databaseClaimOf(cache.instances.unsafeGet(b) as KubeObject, secretOf)
      expect(claim).toMatchObject({ server: "pg.shared.svc:5432", database: "app" })

      yield* reconcile(a, settings).pipe(Effect.provideService(InstanceCache, cache))
      yield* reconcile(b, settings).pipe(Effect.provideService(InstanceCache, cache))
      const backendOf = (namespace: string) =>
        cache.store("StatefulSet").unsafeGet(Resource.key(namespace, "app-backend"))
      yield* until("the older backend", () => backendOf("team-a") !== undefined)
      expect(backendOf("team-b")).toBeUndefined()

      const held = yield* kube.get(ConvexInstances, "app", { namespace: "team-b" })
      expect(ready(held)).toMatchObject({ status: "False", reason: "ValidationFailed" })
      expect(ready(held)?.message).toContain("spec.backend.db.databaseName:")
      expect(ready(held)?.message).toContain("ConvexInstance team-a/app")
      expect(JSON.stringify(held.status)).not.toContain("hunter2")
      const winner = yield* kube.get(ConvexInstances, "app", { namespace: "team-a" })
      expect(JSON.stringify(winner.status)).not.toContain("databaseName")
      const warnings = (yield* yield* RecordedEvents).filter((event) => event.type === "Warning")
      expect(warnings).toHaveLength(1)
      expect(warnings[0]?.note).toContain("ConvexInstance team-a/app")
      expect(JSON.stringify(warnings[0]?.regarding)).toContain("team-b")

      // Once its children are in place, a reconcile of the held instance writes nothing and records nothing more.
      const storedVersion = Effect.map(
        kube.get(ConvexInstances, "app", { namespace: "team-b" }),
        (object) => object.metadata.resourceVersion
      )
      let rounds = 0
      for (let before = yield* storedVersion; rounds < 5; rounds++) {
        yield* until("the cached status", () => cache.instances.unsafeGet(b)?.metadata.resourceVersion === before)
        for (let i = 0; i < 200; i++) yield* Effect.yieldNow()
        yield* reconcile(b, settings).pipe(Effect.provideService(InstanceCache, cache))
        const after = yield* storedVersion
        if (after === before) break
        before = after
      }
      expect(rounds).toBeLessThan(5)
      expect(ready(yield* kube.get(ConvexInstances, "app", { namespace: "team-b" }))?.message).toContain(
        "ConvexInstance team-a/app"
      )
      expect((yield* yield* RecordedEvents).filter((event) => event.type === "Warning")).toHaveLength(1)

      // The older instance goes: the held one is woken and starts.
      yield* reconcile(a, settings).pipe(Effect.provideService(InstanceCache, cache))
      const last = yield* kube.get(ConvexInstances, "app", { namespace: "team-a" })
      yield* until(
        "the older instance's status",
        () => cache.instances.unsafeGet(a)?.metadata.resourceVersion === last.metadata.resourceVersion
      )
      for (let i = 0; i < 200; i++) yield* Effect.yieldNow()
      triggered.length = 0
      yield* kube.delete(ConvexInstances, "app", { namespace: "team-a" })
      // No finalizer holds it (its data claim is not deleted with it): it is gone at once.
      yield* until("the deletion seen", () => cache.instances.unsafeGet(a) === undefined)
      yield* until("the held instance woken", () => triggered.includes(b))
      yield* reconcile(b, settings).pipe(Effect.provideService(InstanceCache, cache))
      yield* until("the released backend", () => backendOf("team-b") !== undefined)
    }).pipe(Effect.provide(layers))
  )

  it.scoped("a database name of its own resolves it", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const shared = "postgres://convex:pw@pg.shared.svc:5432"
      yield* kube.create(Resource.Secret, urlSecret("team-a", shared))
      yield* kube.create(Resource.Secret, urlSecret("team-b", shared))
      yield* kube.create(ConvexInstances, app("team-a"))
      yield* TestClock.adjust("1 second")
      yield* kube.create(ConvexInstances, app("team-b", "app_b"))
      const cache = yield* makeCache({ namespace: undefined, trigger: () => Effect.void })
      yield* cache.ready
      yield* until("the URL Secrets", () => cache.store("Secret").unsafeList().length >= 2)
      yield* reconcile(Resource.key("team-a", "app"), settings).pipe(Effect.provideService(InstanceCache, cache))
      yield* reconcile(Resource.key("team-b", "app"), settings).pipe(Effect.provideService(InstanceCache, cache))
      yield* until(
        "both backends",
        () =>
          cache.store("StatefulSet").unsafeGet(Resource.key("team-a", "app-backend")) !== undefined &&
          cache.store("StatefulSet").unsafeGet(Resource.key("team-b", "app-backend")) !== undefined
      )
    }).pipe(Effect.provide(layers))
  )
})
