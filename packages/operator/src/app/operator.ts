/**
 * The operator as one scoped Effect: a work queue of ConvexInstance keys and the caches that feed it (one for all
 * namespaces, or one per watched namespace). Each key has at most one reconcile running; closing the scope drains
 * running reconciles gracefully.
 *
 * @module
 */
import type { SecretGenerator } from "@convex-operator/core"
import { type EventRecorder, type KubeClient, type ObjectKey, Resource, WorkQueue } from "@convex-operator/k8s"
import { Deferred, Duration, Effect, type Scope } from "effect"
import { startBackupController } from "../controllers/backup/backup-controller.js"
import { type Cache, makeCache } from "../controllers/instance/cache.js"
import { InstanceCache } from "../controllers/instance/instance-cache.js"
import { type ReconcilerSettings, reconcile } from "../controllers/instance/reconcile.js"
import { startScheduleController } from "../controllers/schedule/schedule-controller.js"
import type { RetryableError } from "../shell/errors.js"

export interface OperatorOptions {
  /** Namespaces to watch; empty: all namespaces. */
  readonly namespaces: ReadonlyArray<string>
  /** Reconciles running at once (different instances). */
  readonly concurrency: number
  readonly settings: ReconcilerSettings
  /** How long a shutdown waits for running reconciles (default 30 s). */
  readonly gracefulShutdown?: Duration.DurationInput
  /** Passed to every watch: how long a silent watch is trusted (default 300 s). */
  readonly watchIdleTimeout?: Duration.DurationInput
}

export interface Operator {
  /** True once every cache has listed. */
  readonly isReady: Effect.Effect<boolean>
  readonly ready: Effect.Effect<void>
  readonly queue: WorkQueue.WorkQueue
}

/** Starts the operator in the current scope. */
export const startOperator = (
  options: OperatorOptions
): Effect.Effect<Operator, never, KubeClient | EventRecorder | SecretGenerator | Scope.Scope> =>
  Effect.gen(function* () {
    const caches = new Map<string | undefined, Cache>()
    // A cache triggers its instances as soon as their list is in, which can be before `makeCache` has returned (it
    // still checks for Gateway API) and the cache is in `caches`: runs wait for every cache to exist, or such a key
    // would find no cache and be dropped until the instance next changes.
    const cachesBuilt = yield* Deferred.make<void>()
    const cacheOf = (key: ObjectKey): Cache | undefined => {
      const { namespace } = Resource.parseKey(key)
      return caches.get(options.namespaces.length === 0 ? undefined : namespace)
    }
    const queue = yield* WorkQueue.make<RetryableError, KubeClient | EventRecorder | SecretGenerator>({
      name: "convexinstance",
      concurrency: options.concurrency,
      gracefulShutdown: options.gracefulShutdown ?? "30 seconds",
      run: (key) =>
        Effect.gen(function* () {
          yield* Deferred.await(cachesBuilt)
          const cache = cacheOf(key)
          if (cache === undefined) {
            yield* Effect.logDebug("not in a watched namespace: not reconciled")
            return WorkQueue.Action.awaitChange
          }
          yield* cache.ready
          yield* Effect.logDebug("reconcile: start")
          const action = yield* reconcile(key, options.settings).pipe(Effect.provideService(InstanceCache, cache))
          yield* Effect.logDebug(
            `reconcile: done, ${action._tag === "RequeueAfter" ? `again in ${Duration.format(action.duration)}` : "until a change"}`
          )
          return action
        }).pipe(Effect.annotateLogs({ instance: key }))
    })
    // A shutdown before every cache exists: runs still waiting end at once (not after the grace period).
    yield* Effect.addFinalizer(() => Deferred.interrupt(cachesBuilt))
    const trigger = (key: ObjectKey) => queue.enqueue(key)
    for (const namespace of options.namespaces.length === 0 ? [undefined] : options.namespaces) {
      caches.set(
        namespace,
        yield* makeCache({
          namespace,
          trigger,
          forget: queue.forget,
          ...(options.watchIdleTimeout === undefined ? {} : { watchIdleTimeout: options.watchIdleTimeout })
        })
      )
    }
    yield* Deferred.succeed(cachesBuilt, undefined)
    // ConvexBackups and ConvexScheduledBackups: one controller of each per watched namespace (or for all).
    const backupControllers = []
    for (const namespace of options.namespaces.length === 0 ? [undefined] : options.namespaces) {
      backupControllers.push(
        yield* startBackupController({ namespace, operatorImage: options.settings.operatorImage }),
        yield* startScheduleController({ namespace })
      )
    }
    const all = [...caches.values(), ...backupControllers]
    return {
      queue,
      ready: Effect.all(
        all.map((cache) => cache.ready),
        { discard: true }
      ),
      isReady: Effect.map(Effect.all(all.map((cache) => cache.isReady)), (flags) => flags.every(Boolean))
    }
  })
