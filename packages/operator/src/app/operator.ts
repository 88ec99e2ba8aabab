/**
 * The operator as one scoped Effect: every controller, on `@convex-operator/k8s`'s `Controller`, each watching the
 * same namespaces (one set of watches per namespace, or one for all):
 *
 * - ConvexInstances (controllers/instance): the reconcile of `reconcile.ts`, at most one per instance at a time and
 *   `concurrency` across instances, and the saga fibers of each instance (`sagas/`: an upgrade in progress, the
 *   periodic restart, a restore's import);
 * - ConvexBackups (controllers/backup) and ConvexScheduledBackups (controllers/schedule).
 *
 * Closing the scope drains running reconciles gracefully.
 *
 * @module
 */
import type { SecretGenerator } from "@convex-operator/core"
import type { EventRecorder, KubeClient, KubeObject, WorkQueue } from "@convex-operator/k8s"
import { type Duration, Effect, type Scope } from "effect"
import { startBackupController } from "../controllers/backup/backup-controller.js"
import { makeInstanceController } from "../controllers/instance/cache.js"
import { InstanceCache } from "../controllers/instance/instance-cache.js"
import { type ReconcilerSettings, reconcile } from "../controllers/instance/reconcile.js"
import { startScheduleController } from "../controllers/schedule/schedule-controller.js"

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
  /** The ConvexInstance controller's queue. */
  readonly queue: WorkQueue.WorkQueue
  /** The instances whose saga fiber of a kind runs now (`upgradeMove`: an upgrade in progress). */
  readonly sagas: (kind: "upgradeMove" | "restartMove" | "restoreMove") => ReadonlyArray<string>
  /** The cached ConvexInstances, ConvexBackups and ConvexScheduledBackups (read at each metrics scrape). */
  readonly instances: () => ReadonlyArray<KubeObject>
  readonly backups: () => ReadonlyArray<KubeObject>
  readonly scheduledBackups: () => ReadonlyArray<KubeObject>
}

/** Starts the operator in the current scope. */
export const startOperator = (
  options: OperatorOptions
): Effect.Effect<Operator, never, KubeClient | EventRecorder | SecretGenerator | Scope.Scope> =>
  Effect.gen(function* () {
    const instances = yield* makeInstanceController({
      namespaces: options.namespaces,
      concurrency: options.concurrency,
      gracefulShutdown: options.gracefulShutdown ?? "30 seconds",
      ...(options.watchIdleTimeout === undefined ? {} : { watchIdleTimeout: options.watchIdleTimeout }),
      reconcile: (key, cache) =>
        Effect.gen(function* () {
          yield* Effect.logDebug("reconcile: start")
          const action = yield* reconcile(key, options.settings).pipe(Effect.provideService(InstanceCache, cache))
          yield* Effect.logDebug(
            `reconcile: done, ${action._tag === "RequeueAfter" ? `again in ${action.duration}` : "until a change"}`
          )
          return action
        }).pipe(Effect.annotateLogs({ instance: key }))
    })
    const backups = yield* startBackupController({
      namespaces: options.namespaces,
      operatorImage: options.settings.operatorImage
    })
    const schedules = yield* startScheduleController({ namespaces: options.namespaces })
    const all = [instances.controller, backups, schedules]
    return {
      queue: instances.controller.queue,
      sagas: instances.sagas.running,
      ready: Effect.all(
        all.map((controller) => controller.ready),
        { discard: true }
      ),
      isReady: Effect.map(Effect.all(all.map((controller) => controller.isReady)), (flags) => flags.every(Boolean)),
      instances: () => instances.controller.primaries.unsafeList(),
      // Each controller's own kind is its primaries (its store() holds only what it owns or watches besides).
      backups: () => backups.primaries.unsafeList(),
      scheduledBackups: () => schedules.primaries.unsafeList()
    }
  })
