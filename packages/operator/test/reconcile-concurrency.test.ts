/**
 * Throughput of one reconcile on the in-memory apiserver: its applies run concurrently up to the bound, what pods
 * read (Secrets, ConfigMaps, Services) is applied before the workloads that run pods, and an unchanged instance
 * still costs no write. Also the flags that set the bounds.
 */
import { KubeClient, type KubeObject, Resource } from "@convex-operator/k8s"
import { CliConfig, Options } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { rateLimitOf, tuningDefaults, tuningOptions } from "../src/cli/tuning.js"
import { applyWaves, defaultApplyConcurrency } from "../src/controllers/instance/act.js"
import { makeCache } from "../src/controllers/instance/cache.js"
import { InstanceCache } from "../src/controllers/instance/instance-cache.js"
import { reconcile } from "../src/controllers/instance/reconcile.js"
import { ConvexInstances } from "../src/shell/resources.js"
import { layers, namespace, until } from "./support/operator-harness.js"

const key = Resource.key(namespace, "demo")

type Step = { readonly at: "start" | "end"; readonly kind: string }

/**
 * The in-memory client, its child applies recorded: each apply stays in flight for a few scheduler turns, so applies
 * that may run together do overlap.
 */
const recordingClient = (kube: KubeClient["Type"], steps: Array<Step>) => {
  let inFlight = 0
  let most = 0
  const client: KubeClient["Type"] = {
    ...kube,
    apply: (resource, object, options) =>
      resource.kind === ConvexInstances.kind
        ? kube.apply(resource, object, options)
        : Effect.gen(function* () {
            inFlight++
            most = Math.max(most, inFlight)
            steps.push({ at: "start", kind: object.kind })
            yield* Effect.repeatN(Effect.yieldNow(), 20)
            return yield* kube.apply(resource, object, options)
          }).pipe(
            Effect.ensuring(
              Effect.sync(() => {
                inFlight--
                steps.push({ at: "end", kind: object.kind })
              })
            )
          )
  }
  return { client, most: () => most }
}

/** A new instance with its dashboard, reconciled once through the recording client with `applyConcurrency`. */
const firstReconcile = (applyConcurrency: number | undefined) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    yield* kube.create(ConvexInstances, {
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexInstance",
      metadata: { name: "demo", namespace },
      spec: {
        environment: "dev",
        version: "1111111111111111111111111111111111111111",
        dashboard: { enabled: true }
      }
    } as KubeObject)
    const cache = yield* makeCache({ namespace, trigger: () => Effect.void })
    yield* cache.ready
    yield* until("the instance", () => cache.instances.unsafeGet(key) !== undefined)
    const steps: Array<Step> = []
    const recording = recordingClient(kube, steps)
    const settings = {
      operatorImage: "registry.example/convex-operator:test",
      ...(applyConcurrency === undefined ? {} : { applyConcurrency })
    }
    yield* reconcile(key, settings)
      .pipe(Effect.provideService(InstanceCache, cache))
      .pipe(Effect.provideService(KubeClient, recording.client))
    return { steps, most: recording.most(), cache, recording, settings }
  })

const podOwners = new Set(["StatefulSet", "Deployment", "Job"])

describe("one reconcile's applies", () => {
  it.scoped("run concurrently up to the default bound, the workloads after everything they read", () =>
    Effect.gen(function* () {
      const { steps, most } = yield* firstReconcile(undefined)
      const kinds = steps.filter((step) => step.at === "start").map((step) => step.kind)
      expect(kinds).toEqual(expect.arrayContaining(["ConfigMap", "Secret", "Service", "StatefulSet", "Deployment"]))
      expect(kinds.filter((kind) => !podOwners.has(kind)).length).toBeGreaterThan(defaultApplyConcurrency)
      expect(most).toBe(4)
      const firstWorkload = steps.findIndex((step) => step.at === "start" && podOwners.has(step.kind))
      const lastOther = steps.findLastIndex((step) => step.at === "end" && !podOwners.has(step.kind))
      expect(lastOther).toBeLessThan(firstWorkload)
      // Both workloads together.
      expect(steps.slice(firstWorkload, firstWorkload + 2).map((step) => step.at)).toEqual(["start", "start"])
    }).pipe(Effect.provide(layers))
  )

  it.scoped("run one at a time with a bound of 1, and an unchanged instance costs no apply", () =>
    Effect.gen(function* () {
      const { steps, most, cache, recording, settings } = yield* firstReconcile(1)
      expect(most).toBe(1)
      for (let i = 0; i < steps.length; i += 2) expect(steps[i]?.kind).toBe(steps[i + 1]?.kind)

      const kube = yield* KubeClient
      const stored = yield* kube.get(ConvexInstances, "demo", { namespace })
      yield* until(
        "every child and the status",
        () =>
          cache.instances.unsafeGet(key)?.metadata.resourceVersion === stored.metadata.resourceVersion &&
          cache.store("Deployment").unsafeGet(Resource.key(namespace, "demo-dashboard")) !== undefined
      )
      const before = steps.length
      yield* reconcile(key, settings)
        .pipe(Effect.provideService(InstanceCache, cache))
        .pipe(Effect.provideService(KubeClient, recording.client))
      expect(steps.length).toBe(before)
    }).pipe(Effect.provide(layers))
  )

  it("are ordered in waves: what pods read, the RoleBindings, then what runs pods", () => {
    const children = ["StatefulSet", "Secret", "Job", "ConfigMap", "Deployment", "HTTPRoute"].map((kind) => ({ kind }))
    expect(applyWaves(children).map((wave) => wave.map((child) => child.kind))).toEqual([
      ["Secret", "ConfigMap", "HTTPRoute"],
      ["StatefulSet", "Job", "Deployment"]
    ])
    // A RoleBinding after its Role (the apiserver resolves the Role to check the binding), before the Jobs using it.
    const rbac = ["Job", "RoleBinding", "Role", "ServiceAccount"].map((kind) => ({ kind }))
    expect(applyWaves(rbac).map((wave) => wave.map((child) => child.kind))).toEqual([
      ["Role", "ServiceAccount"],
      ["RoleBinding"],
      ["Job"]
    ])
    expect(applyWaves([{ kind: "Job" }])).toEqual([[{ kind: "Job" }]])
    expect(applyWaves([])).toEqual([])
  })
})

/** Parses `args` as `convex-operator run`'s throughput flags, with `env` as the environment. */
const parseTuning = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Options.processCommandLine(Options.all(tuningOptions), args, CliConfig.defaultConfig).pipe(
    Effect.map(([, , tuning]) => tuning),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    Effect.provide(NodeContext.layer)
  )

describe("the throughput flags", () => {
  it.effect("default to 4 reconciles, 4 requests each, and no client-side rate limit (as controller-runtime)", () =>
    Effect.gen(function* () {
      const tuning = yield* parseTuning([])
      expect(tuning).toEqual({ concurrency: 4, applyConcurrency: 4, kubeApiQps: 0, kubeApiBurst: 100 })
      expect(tuning.concurrency).toBe(tuningDefaults.maxConcurrentReconciles)
      expect(rateLimitOf(tuning)).toBe(false)
      expect(rateLimitOf(yield* parseTuning(["--kube-api-qps", "50"]))).toEqual({ qps: 50, burst: 100 })
    })
  )

  it.effect("parse from flags (--concurrency the older name) and the environment", () =>
    Effect.gen(function* () {
      expect(
        yield* parseTuning([
          "--max-concurrent-reconciles",
          "8",
          "--apply-concurrency=2",
          "--kube-api-qps",
          "0",
          "--kube-api-burst",
          "5"
        ])
      ).toEqual({ concurrency: 8, applyConcurrency: 2, kubeApiQps: 0, kubeApiBurst: 5 })
      expect((yield* parseTuning(["--concurrency", "3"])).concurrency).toBe(3)
      const fromEnv = yield* parseTuning([], { MAX_CONCURRENT_RECONCILES: "6", KUBE_API_QPS: "200" })
      expect(fromEnv).toMatchObject({ concurrency: 6, kubeApiQps: 200 })
      expect(yield* Effect.flip(parseTuning(["--apply-concurrency", "many"]))).toBeDefined()
    })
  )

  it("turn the client-side rate limit off at 0 requests/s", () => {
    expect(rateLimitOf({ concurrency: 1, applyConcurrency: 1, kubeApiQps: 0, kubeApiBurst: 100 })).toBe(false)
    expect(rateLimitOf({ concurrency: 1, applyConcurrency: 1, kubeApiQps: 5, kubeApiBurst: 0 })).toEqual({
      qps: 5,
      burst: 1
    })
  })
})
