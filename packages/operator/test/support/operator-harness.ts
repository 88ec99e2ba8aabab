/**
 * The whole operator (`startOperator`: the instance, backup and schedule controllers) on the in-memory apiserver,
 * for tests that drive it only through the API and the TestClock: the test plays the cluster (workload and Job
 * status), the operator's own watches and queue timers do the rest. The operator runs in a Scope of its own, so a
 * test can stop it (as a lost lease does) and start a new one on the same apiserver.
 */
import { SecretGenerator } from "@convex-operator/core"
import { EventRecorder, KubeClient, type KubeObject, MemoryApiServer, Resource } from "@convex-operator/k8s"
import { Effect, Exit, FiberRef, HashMap, HashSet, Layer, Logger, LogLevel, Option, Scope } from "effect"
import { startOperator } from "../../src/app/operator.js"
import type { Cache } from "../../src/controllers/instance/cache.js"
import { ConvexBackups } from "../../src/shell/backup-resources.js"
import { ConvexInstances } from "../../src/shell/resources.js"

export const namespace = "apps"
export const v1 = "1111111111111111111111111111111111111111"
export const v2 = "2222222222222222222222222222222222222222"

export const layers = Layer.mergeAll(KubeClient.layerMemory(), EventRecorder.layerTest, SecretGenerator.layerTest(7))

/** The settings of a reconcile a test runs by hand. */
export const settings = { operatorImage: "registry.example/convex-operator:test" }

// biome-ignore lint/suspicious/noExplicitAny: the tests read the stored objects
export type Json = { readonly [key: string]: any }

/** The requests that change something (the in-memory apiserver logs every request). */
export const writesOf = (requests: ReadonlyArray<string>) =>
  requests.filter((request) => !/^(GET|LIST|WATCH) /.test(request))

/**
 * The vitest timeout of a whole-operator test: a few seconds of work on an idle machine (no simulated time costs
 * real time), more on a loaded one. A limit on hangs, not a performance goal.
 */
export const wholeOperatorTimeout = 60_000

/** Lets the operator's fibers run: a bounded number of scheduler turns, no time passes. */
export const settle = Effect.repeatN(Effect.yieldNow(), 300)

/** Lets the operator's fibers run until `check` holds (bounded; no time passes). */
export const until = <E = never, R = never>(what: string, check: Effect.Effect<boolean, E, R> | (() => boolean)) =>
  Effect.gen(function* () {
    for (let i = 0; i < 2000; i++) {
      if (typeof check === "function" ? check() : yield* check) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.die(new Error(`never saw ${what}`))
  })

/** A running operator and how to stop it (closing its Scope, as losing the lease does). */
export interface RunningOperator {
  readonly stop: Effect.Effect<void>
  /** The instances whose upgrade saga fiber runs. */
  readonly upgradeSagas: () => ReadonlyArray<string>
  /** The instances whose saga fiber of a kind runs. */
  readonly sagas: (kind: "upgradeMove" | "restartMove" | "restoreMove") => ReadonlyArray<string>
}

/**
 * A logger that notes, in `into`, the instance of every reconcile the operator starts (its "reconcile: start" debug
 * line), and drops everything else.
 */
const reconcileLogger = (into: Array<string>) =>
  Logger.make(({ message, annotations }) => {
    const text = Array.isArray(message) ? message.join(" ") : String(message)
    if (text === "reconcile: start")
      into.push(String(HashMap.get(annotations, "instance").pipe(Option.getOrElse(() => ""))))
  })

/**
 * Runs `self` with the reconcile logger of `into` as its only logger; the fibers it forks (the operator's) keep it.
 */
export const logReconciles =
  (into: Array<string>) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    self.pipe(
      Effect.locally(FiberRef.currentMinimumLogLevel, LogLevel.Debug),
      Effect.locally(FiberRef.currentLoggers, HashSet.make(reconcileLogger(into)))
    )

/**
 * Starts the whole operator in a Scope of its own and waits until its caches have listed; the key of every
 * reconcile it starts goes into `reconciles`.
 */
export const runOperator = (reconciles: Array<string> = []) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const operator = yield* startOperator({
      namespaces: [namespace],
      concurrency: 2,
      settings: { operatorImage: "registry.example/convex-operator:test" }
    }).pipe(Scope.extend(scope), logReconciles(reconciles))
    yield* operator.ready
    return {
      stop: Scope.close(scope, Exit.void),
      upgradeSagas: () => operator.sagas("upgradeMove"),
      sagas: operator.sagas
    } satisfies RunningOperator
  })

export const createInstance = (name: string, spec: Record<string, unknown>) =>
  Effect.flatMap(KubeClient, (kube) =>
    kube.create(ConvexInstances, {
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexInstance",
      metadata: { name, namespace },
      spec: { environment: "dev", version: v1, ...spec }
    } as KubeObject)
  )

export const getInstance = (name: string) =>
  Effect.flatMap(KubeClient, (kube) => kube.get(ConvexInstances, name, { namespace }))

/**
 * Waits until `cache` holds the stored version of the instance `name`: a reconcile run by hand right after one that
 * wrote the status would find the old version and wait for the change (own-writes.ts), as the operator's does.
 */
export const untilCached = (cache: Cache, name: string) =>
  Effect.flatMap(getInstance(name), (stored) =>
    until(
      `the cache to hold ${name} as stored`,
      Effect.sync(
        () =>
          cache.instances.unsafeGet(Resource.key(namespace, name))?.metadata.resourceVersion ===
          stored.metadata.resourceVersion
      )
    )
  )

export type InstanceStatus = {
  phase?: string
  lastRestartTime?: string
  upgrade?: { phase?: string; attempt?: number; backup?: string }
}

export const statusOf = (object: KubeObject) => (object.status ?? {}) as InstanceStatus

/** Waits (scheduler turns only) until the stored instance's status satisfies `check`. */
export const untilStatus = (name: string, what: string, check: (status: InstanceStatus) => boolean) =>
  until(
    what,
    Effect.map(getInstance(name), (object) => check(statusOf(object)))
  )

/**
 * Plays the StatefulSet and Deployment controllers: the backend and dashboard of `name` have rolled out their
 * current generation and are ready.
 */
export const workloadsReady = (name: string) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const statefulSet = yield* kube.get(Resource.StatefulSet, `${name}-backend`, { namespace })
    const generation = statefulSet.metadata.generation
    yield* kube.patchStatus(
      Resource.StatefulSet,
      `${name}-backend`,
      {
        observedGeneration: generation,
        replicas: 1,
        readyReplicas: 1,
        updatedReplicas: 1,
        currentRevision: `r${generation}`,
        updateRevision: `r${generation}`
      },
      { namespace }
    )
    const deployment = yield* kube
      .get(Resource.Deployment, `${name}-dashboard`, { namespace })
      .pipe(Effect.catchTag("NotFound", () => Effect.succeed(undefined)))
    if (deployment === undefined) return
    const replicas = (deployment.spec as { replicas?: number }).replicas ?? 1
    yield* kube.patchStatus(
      Resource.Deployment,
      `${name}-dashboard`,
      {
        observedGeneration: deployment.metadata.generation,
        replicas,
        readyReplicas: replicas,
        updatedReplicas: replicas,
        availableReplicas: replicas
      },
      { namespace }
    )
  })

/** Waits until the backend StatefulSet exists (the operator's first reconcile made it). */
export const untilBackend = (name: string) =>
  until(
    "the backend StatefulSet",
    Effect.flatMap(KubeClient, (kube) =>
      kube.get(Resource.StatefulSet, `${name}-backend`, { namespace }).pipe(
        Effect.as(true),
        Effect.catchTag("NotFound", () => Effect.succeed(false))
      )
    )
  )

/**
 * Plays the workload controllers until the instance is Ready: whenever the operator has changed the backend or the
 * dashboard, they roll it out (the first reconciles may apply the StatefulSet more than once).
 */
export const untilReady = (name: string) =>
  rollOutUntil(name, "the instance Ready", (status) => status.phase === "Ready")

/** Plays the workload controllers (as {@link untilReady}) until the instance's status satisfies `done`. */
export const rollOutUntil = (name: string, what: string, done: (status: InstanceStatus) => boolean) =>
  until(
    what,
    Effect.gen(function* () {
      if (done(statusOf(yield* getInstance(name)))) return true
      const kube = yield* KubeClient
      const backend = yield* kube.get(Resource.StatefulSet, `${name}-backend`, { namespace })
      const seen = (backend.status as { observedGeneration?: number } | undefined)?.observedGeneration
      if (seen !== backend.metadata.generation) yield* workloadsReady(name)
      return false
    })
  )

/** Creates the instance, lets the operator render it and plays the cluster until the instance is Ready. */
export const readyInstance = (name: string, spec: Record<string, unknown>) =>
  Effect.gen(function* () {
    yield* createInstance(name, spec)
    yield* untilBackend(name)
    yield* untilReady(name)
  })

/** Plays the Job controller: the Job `name` has succeeded. */
export const jobSucceeded = (name: string) =>
  Effect.flatMap(KubeClient, (kube) =>
    kube.patchStatus(
      Resource.Job,
      name,
      { succeeded: 1, conditions: [{ type: "Complete", status: "True" }] },
      { namespace }
    )
  )

/** Names and UIDs of the Jobs and ConvexBackups stored now. */
export const jobsAndBackups = Effect.gen(function* () {
  const server = yield* MemoryApiServer
  const objects = yield* server.objects
  return new Map(
    objects
      .filter((object) => object.kind === "Job" || object.kind === ConvexBackups.kind)
      .map((object) => [`${object.kind}/${object.metadata.name}`, object.metadata.uid ?? ""])
  )
})

/**
 * The requests served since `from` (an index into the apiserver's request log), but WATCH: a watch the server ended
 * (its timeout) is opened again, which reads and writes nothing.
 */
export const requestsSince = (from: number) =>
  Effect.map(
    Effect.flatMap(MemoryApiServer, (server) => server.requests),
    (all) => all.slice(from).filter((request) => !request.startsWith("WATCH "))
  )

export const requestCount = Effect.map(
  Effect.flatMap(MemoryApiServer, (server) => server.requests),
  (all) => all.length
)
