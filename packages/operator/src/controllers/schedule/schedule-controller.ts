/**
 * The ConvexScheduledBackup controller (k8s `Controller`): observe the schedule and the ConvexBackups it created
 * (by label) → `decideSchedule` (core) → create the due backup, delete what retention prunes (a backup with
 * deletionPolicy Delete takes its data along), write the status when it changed, and wake up for the next run. A
 * run that is due reads the instance first: one paused by `convex.icod.de/pause-reconciliation` gets no backup.
 *
 * @module
 */
import {
  decideSchedule,
  decodeConvexScheduledBackup,
  type RetainedBackup,
  reconciliationPaused
} from "@convex-operator/core"
import { backupLabels, invalidScheduleStatus } from "@convex-operator/core/internal"
import {
  Action,
  Controller,
  type EventRecorder,
  KubeClient,
  type KubeObject,
  Resource,
  type TerminalError
} from "@convex-operator/k8s"
import { Clock, Effect, Either } from "effect"
import { ConvexBackups, ConvexScheduledBackups, trimmed } from "../../shell/backup-resources.js"
import type { RetryableError } from "../../shell/errors.js"
import { recordEvents } from "../../shell/events.js"
import { fieldManager } from "../../shell/field-manager.js"
import { reportInvalidSpec } from "../../shell/invalid-spec.js"
import { ConvexInstances } from "../../shell/resources.js"
import { applyStatusIfChanged, retryOn } from "../../shell/writes.js"

const scheduleKeyOf = (backup: KubeObject): ReadonlyArray<string> => {
  const schedule = backup.metadata.labels?.[backupLabels.schedule]
  return schedule === undefined ? [] : [Resource.key(backup.metadata.namespace, schedule)]
}

const retained = (backup: KubeObject): RetainedBackup => {
  const status = (backup as { status?: { phase?: RetainedBackup["phase"]; finishedAt?: string } }).status
  return {
    name: backup.metadata.name ?? "",
    phase: status?.phase,
    finishedAt: new Date(status?.finishedAt ?? backup.metadata.creationTimestamp ?? 0)
  }
}

/** Starts the ConvexScheduledBackup controller in the current scope. */
export const startScheduleController = (options: {
  /** Namespaces to watch; empty: all namespaces. */
  readonly namespaces: ReadonlyArray<string>
}) =>
  Controller.make<KubeObject, RetryableError | TerminalError, KubeClient | EventRecorder>({
    name: "convexscheduledbackup",
    resource: ConvexScheduledBackups,
    namespaces: options.namespaces,
    watcher: trimmed,
    watches: [
      {
        resource: ConvexBackups,
        watcher: { ...trimmed, labelSelector: backupLabels.schedule },
        indexers: { schedule: scheduleKeyOf },
        map: (backup) => scheduleKeyOf(backup)
      }
    ],
    isTerminal: (error) => error._tag === "TerminalError",
    reconcile: (object, context) =>
      Effect.gen(function* () {
        const kube = yield* KubeClient
        const decoded = decodeConvexScheduledBackup(object)
        if (Either.isLeft(decoded)) {
          const now = new Date(yield* Clock.currentTimeMillis)
          return yield* reportInvalidSpec(
            ConvexScheduledBackups,
            object,
            invalidScheduleStatus(object, decoded.left, now)
          )
        }
        const schedule = decoded.right
        const namespace = schedule.metadata.namespace ?? "default"
        const backups = context
          .store(ConvexBackups)
          .unsafeByIndex("schedule", context.key)
          .filter((backup) => backup.metadata.deletionTimestamp === undefined)
          .map(retained)
        const now = new Date(yield* Clock.currentTimeMillis)
        const due = decideSchedule({ schedule, backups, now })
        // Only a due run needs the instance: is it paused (a missing instance is the backup's to report)?
        const instancePaused =
          due.create !== undefined &&
          (yield* kube.get(ConvexInstances, schedule.spec.instanceRef.name, { namespace }).pipe(
            Effect.map((instance) => reconciliationPaused(instance.metadata)),
            Effect.catchTag("NotFound", () => Effect.succeed(false)),
            Effect.mapError(retryOn("reading the instance"))
          ))
        const decision = instancePaused ? decideSchedule({ schedule, backups, now, instancePaused }) : due
        if (decision.create !== undefined) {
          yield* kube.create(ConvexBackups, decision.create, { fieldManager }).pipe(
            Effect.tap(() => Effect.logInfo(`created ConvexBackup ${namespace}/${decision.create?.metadata.name}`)),
            Effect.catchIf(
              (error) => error._tag === "Conflict",
              () => Effect.void // created by an earlier reconcile of the same run
            ),
            Effect.mapError(retryOn("creating the scheduled backup"))
          )
        }
        for (const pruned of decision.prune) {
          yield* kube.delete(ConvexBackups, pruned, { namespace, propagationPolicy: "Background" }).pipe(
            Effect.tap(() => Effect.logInfo(`retention deleted ConvexBackup ${namespace}/${pruned}`)),
            Effect.catchTag("NotFound", () => Effect.void),
            Effect.mapError(retryOn(`deleting ${pruned}`))
          )
        }
        yield* applyStatusIfChanged(ConvexScheduledBackups, object, decision.status)
        yield* recordEvents(object, decision.events)
        return decision.requeueAfter === undefined ? Action.awaitChange : Action.requeueAfter(decision.requeueAfter)
      }).pipe(Effect.annotateLogs({ schedule: context.key }))
  })
