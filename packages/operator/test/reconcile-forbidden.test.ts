/**
 * A permission the reconcile needs is taken away while the operator runs (the in-memory apiserver answers 403 as
 * RBAC does): the instance says which verb on which resource is missing (Ready=False, reason Forbidden, a Warning
 * event), the work queue retries with its growing backoff, and granting the permission again recovers at the next
 * retry without any change to the instance.
 */
import { Forbidden, KubeClient, type KubeObject, MemoryApiServer, RecordedEvents, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { startOperator } from "../src/app/operator.js"
import { makeCache } from "../src/controllers/instance/cache.js"
import { InstanceCache } from "../src/controllers/instance/instance-cache.js"
import { reconcile } from "../src/controllers/instance/reconcile.js"
import { describeForbidden, parseDenied } from "../src/shell/forbidden.js"
import { ConvexInstances } from "../src/shell/resources.js"
import { type Json, layers, namespace, settings, until, untilCached } from "./support/operator-harness.js"

const key = Resource.key(namespace, "demo")
const settle = Effect.repeatN(Effect.yieldNow(), 200)

const instance = (env: string, dashboard: boolean): KubeObject =>
  ({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name: "demo", namespace },
    spec: {
      environment: "dev",
      version: "1111111111111111111111111111111111111111",
      backend: { env: [{ name: "PHASE", value: env }] },
      dashboard: { enabled: dashboard }
    }
  }) as unknown as KubeObject

const applyInstance = (env: string, dashboard = true) =>
  Effect.flatMap(KubeClient, (kube) =>
    kube.apply(ConvexInstances, instance(env, dashboard), { fieldManager: "test", force: true })
  )

const condition = (object: KubeObject, type: string): Json | undefined =>
  ((object as unknown as Json).status?.conditions as ReadonlyArray<Json> | undefined)?.find((c) => c.type === type)

const phaseOf = (statefulSet: KubeObject | undefined): unknown =>
  (statefulSet as unknown as Json | undefined)?.spec.template.spec.containers[0].env.find(
    (env: Json) => env.name === "PHASE"
  )?.value

const deniedMessage =
  'Forbidden: the operator may not patch statefulsets.apps in namespace apps (as system:serviceaccount:memory:test): its ClusterRole, or with --namespaces its Role in apps, needs "patch" on "statefulsets" in API group "apps" (convex-operator manifests prints the rules it needs)'

describe("a permission denied at run time", () => {
  it.scoped("is reported on the instance, fails the reconcile for a retry, and recovers once granted", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const server = yield* MemoryApiServer
      yield* applyInstance("one")
      const cache = yield* makeCache({ namespace, trigger: () => Effect.void })
      yield* cache.ready
      yield* until("the instance", () => cache.instances.unsafeGet(key) !== undefined)
      yield* reconcile(key, settings).pipe(Effect.provideService(InstanceCache, cache))
      const statefulSets = cache.store("StatefulSet")
      yield* until(
        "the StatefulSet",
        () => statefulSets.unsafeGet(Resource.key(namespace, "demo-backend")) !== undefined
      )

      yield* server.forbid([{ verb: "patch", resource: "statefulsets", namespace }])
      const changed = yield* applyInstance("two")
      yield* until(
        "the change",
        () => cache.instances.unsafeGet(key)?.metadata.generation === changed.metadata.generation
      )
      const error = yield* reconcile(key, settings).pipe(Effect.provideService(InstanceCache, cache)).pipe(Effect.flip)
      expect(error._tag).toBe("RetryableError")
      expect(error.message).toBe(`StatefulSet demo-backend: ${deniedMessage}`)

      const stored = yield* kube.get(ConvexInstances, "demo", { namespace })
      expect(condition(stored, "StatefulSetReady")).toMatchObject({
        status: "False",
        reason: "Forbidden",
        message: `StatefulSet demo-backend: ${deniedMessage}`
      })
      expect(condition(stored, "Ready")).toMatchObject({ status: "False", reason: "Forbidden" })
      expect((stored as unknown as Json).status.phase).toBe("Error")
      const events = yield* yield* RecordedEvents
      expect(events.filter((event) => event.reason === "Forbidden")).toEqual([
        expect.objectContaining({ type: "Warning", note: `Ready=False: StatefulSet demo-backend: ${deniedMessage}` })
      ])
      expect(phaseOf(statefulSets.unsafeGet(Resource.key(namespace, "demo-backend")))).toBe("one")

      // Granted again: the same instance (no change) reconciles.
      yield* server.forbid([])
      yield* until(
        "the status",
        () => cache.instances.unsafeGet(key)?.metadata.resourceVersion === stored.metadata.resourceVersion
      )
      yield* reconcile(key, settings).pipe(Effect.provideService(InstanceCache, cache))
      const after = yield* kube.get(ConvexInstances, "demo", { namespace })
      expect(condition(after, "StatefulSetReady")?.reason).not.toBe("Forbidden")
      expect(condition(after, "Ready")?.reason).not.toBe("Forbidden")
      const statefulSet = yield* kube.get(Resource.StatefulSet, "demo-backend", { namespace })
      expect(phaseOf(statefulSet)).toBe("two")
    }).pipe(Effect.provide(layers))
  )

  it.scoped("to create an absent child is reported as create, also when the apiserver's message does not say", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const server = yield* MemoryApiServer
      yield* applyInstance("one", false)
      const cache = yield* makeCache({ namespace, trigger: () => Effect.void })
      yield* cache.ready
      yield* until("the instance", () => cache.instances.unsafeGet(key) !== undefined)
      yield* reconcile(key, settings).pipe(Effect.provideService(InstanceCache, cache))
      yield* until(
        "the StatefulSet",
        () => cache.store("StatefulSet").unsafeGet(Resource.key(namespace, "demo-backend")) !== undefined
      )

      yield* server.forbid([{ verb: "create", resource: "services", namespace }])
      const changed = yield* applyInstance("one", true)
      yield* until(
        "the change",
        () => cache.instances.unsafeGet(key)?.metadata.generation === changed.metadata.generation
      )
      const needs =
        'its ClusterRole, or with --namespaces its Role in apps, needs "create" on "services" in API group "" (convex-operator manifests prints the rules it needs)'
      const error = yield* reconcile(key, settings).pipe(Effect.provideService(InstanceCache, cache)).pipe(Effect.flip)
      expect(error.message).toBe(
        `Service demo-dashboard: Forbidden: the operator may not create services in namespace apps (as system:serviceaccount:memory:test): ${needs}`
      )
      // An apiserver whose create check answers only `<resource> "<name>" is forbidden: `: the Service was not
      // observed, so create is what it lacked.
      const terse: typeof kube = {
        ...kube,
        apply: (resource, object, options) =>
          kube.apply(resource, object, options).pipe(
            Effect.mapError((e) =>
              e._tag === "Forbidden"
                ? new Forbidden({
                    request: e.request,
                    code: 403,
                    message: `services "${object.metadata.name}" is forbidden: `
                  })
                : e
            )
          )
      }
      const message = `Forbidden: the operator may not create services in namespace apps: ${needs}`
      yield* untilCached(cache, "demo")
      const again = yield* reconcile(key, settings)
        .pipe(Effect.provideService(InstanceCache, cache))
        .pipe(Effect.provideService(KubeClient, terse), Effect.flip)
      expect(again.message).toBe(`Service demo-dashboard: ${message}`)
      const stored = yield* kube.get(ConvexInstances, "demo", { namespace })
      expect(condition(stored, "DashboardServiceReady")).toMatchObject({
        status: "False",
        reason: "Forbidden",
        message: `Service demo-dashboard: ${message}`
      })
      // The dashboard's Deployment, which needs no new permission, was applied.
      expect((yield* kube.get(Resource.Deployment, "demo-dashboard", { namespace })).metadata.name).toBe(
        "demo-dashboard"
      )
    }).pipe(Effect.provide(layers))
  )

  it.scoped("to write the status fails the reconcile for a retry, naming the status subresource", () =>
    Effect.gen(function* () {
      const server = yield* MemoryApiServer
      yield* applyInstance("one")
      const cache = yield* makeCache({ namespace, trigger: () => Effect.void })
      yield* cache.ready
      yield* until("the instance", () => cache.instances.unsafeGet(key) !== undefined)
      yield* server.forbid([{ verb: "patch", resource: "convexinstances/status", namespace }])
      const error = yield* reconcile(key, settings).pipe(Effect.provideService(InstanceCache, cache)).pipe(Effect.flip)
      expect(error.message).toBe(
        'updating status: Forbidden: the operator may not patch convexinstances/status.convex.icod.de in namespace apps (as system:serviceaccount:memory:test): its ClusterRole, or with --namespaces its Role in apps, needs "patch" on "convexinstances/status" in API group "convex.icod.de" (convex-operator manifests prints the rules it needs)'
      )
      // The children were applied all the same.
      const kube = yield* KubeClient
      expect(phaseOf(yield* kube.get(Resource.StatefulSet, "demo-backend", { namespace }))).toBe("one")
    }).pipe(Effect.provide(layers))
  )

  it.scoped("is retried by the work queue with a growing backoff, and recovers at the next retry once granted", () =>
    Effect.gen(function* () {
      const server = yield* MemoryApiServer
      yield* applyInstance("one")
      const operator = yield* startOperator({ namespaces: [namespace], concurrency: 2, settings })
      yield* operator.ready
      yield* settle
      const kube = yield* KubeClient
      expect(phaseOf(yield* kube.get(Resource.StatefulSet, "demo-backend", { namespace }))).toBe("one")

      yield* server.forbid([{ verb: "patch", resource: "statefulsets", namespace }])
      const before = (yield* server.requests).length
      yield* applyInstance("two")
      const deniedAt: Array<number> = []
      // One minute, in steps of 100 ms (each step lets due retries run).
      for (let step = 1; step <= 600; step++) {
        yield* TestClock.adjust("100 millis")
        yield* settle
        const applies = (yield* server.requests)
          .slice(before)
          .filter((request) => request === `APPLY statefulsets ${namespace}/demo-backend`).length
        while (deniedAt.length < applies) deniedAt.push(step * 100)
      }
      // The queue's backoff (5 ms doubling) gives about 14 attempts in the first minute, most of them at once; a
      // loop without backoff would make thousands. The gaps grow: none in the second half-minute but one.
      expect(deniedAt.length).toBeGreaterThanOrEqual(5)
      expect(deniedAt.length).toBeLessThanOrEqual(16)
      expect(deniedAt.filter((at) => at > 30_000).length).toBeLessThanOrEqual(1)
      const status = yield* kube.get(ConvexInstances, "demo", { namespace })
      expect(condition(status, "Ready")).toMatchObject({ status: "False", reason: "Forbidden" })

      // Granted again, nothing else changes: the next retry (at most about 82 s after the first denial) succeeds.
      yield* server.forbid([])
      for (
        let step = 0;
        step < 60 && phaseOf(yield* kube.get(Resource.StatefulSet, "demo-backend", { namespace })) !== "two";
        step++
      ) {
        yield* TestClock.adjust("1 second")
        yield* settle
      }
      expect(phaseOf(yield* kube.get(Resource.StatefulSet, "demo-backend", { namespace }))).toBe("two")
      const recovered = yield* kube.get(ConvexInstances, "demo", { namespace })
      expect(condition(recovered, "Ready")?.reason).not.toBe("Forbidden")
    }).pipe(Effect.provide(layers))
  )
})

describe("describeForbidden", () => {
  const attempt = { verbs: ["patch", "create"], resource: "services", group: "", namespace: "team-a" }
  const forbidden = (message: string, code = 403) => new Forbidden({ request: "PATCH /api/v1/...", message, code })

  it("names the verb, resource, namespace and user from RBAC's message", () => {
    const message =
      'services "web" is forbidden: User "system:serviceaccount:ops:convex-operator" cannot create resource "services" in API group "" in the namespace "team-a"'
    expect(parseDenied(message)).toEqual({
      verb: "create",
      resource: "services",
      group: "",
      namespace: "team-a",
      user: "system:serviceaccount:ops:convex-operator"
    })
    expect(describeForbidden(forbidden(message), attempt)).toBe(
      'Forbidden: the operator may not create services in namespace team-a (as system:serviceaccount:ops:convex-operator): its ClusterRole, or with --namespaces its Role in team-a, needs "create" on "services" in API group "" (convex-operator manifests prints the rules it needs)'
    )
  })

  it("names a subresource and the cluster scope", () => {
    const message =
      'convexinstances.convex.icod.de "x" is forbidden: User "op" cannot patch resource "convexinstances/status" in API group "convex.icod.de" at the cluster scope'
    expect(describeForbidden(forbidden(message), attempt)).toBe(
      'Forbidden: the operator may not patch convexinstances/status.convex.icod.de at the cluster scope (as op): its ClusterRole needs "patch" on "convexinstances/status" in API group "convex.icod.de" (convex-operator manifests prints the rules it needs)'
    )
  })

  it("falls back to the request it made, and passes on nothing else of the apiserver's text", () => {
    // A message of another shape, carrying what looks like a Secret's data: only the attempt's parts are used.
    const hostile = forbidden('secrets "s" is forbidden: {"data":{"adminKey":"c2VjcmV0LXZhbHVl"}} denied by webhook')
    const message = describeForbidden(hostile, attempt)
    expect(message).toBe(
      'Forbidden: the operator may not patch/create services in namespace team-a: its ClusterRole, or with --namespaces its Role in team-a, needs "patch" and "create" on "services" in API group "" (convex-operator manifests prints the rules it needs)'
    )
    expect(message).not.toContain("c2VjcmV0")
    expect(message).not.toContain("webhook")
    // A quoted field in RBAC's sentence cannot smuggle text either: the parts allow no quotes or spaces.
    const smuggled = forbidden(
      'x is forbidden: User "a\\" data=c2VjcmV0" cannot patch resource "services" in API group "" in the namespace "n"'
    )
    expect(describeForbidden(smuggled, attempt)).not.toContain("c2VjcmV0")
  })

  it("tells an unauthenticated request (401) apart", () => {
    expect(describeForbidden(forbidden("Unauthorized", 401), attempt)).toBe(
      "Unauthorized: the apiserver did not accept the operator's credentials when it tried to patch/create services in namespace team-a: renew its ServiceAccount token or kubeconfig"
    )
  })
})
