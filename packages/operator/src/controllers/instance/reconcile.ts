/**
 * One reconcile of a ConvexInstance, as four steps over services:
 *
 * 1. observe (`observe.ts`, InstanceCache): the instance, decoded once; for an active one, its children, the objects
 *    it references and its backups;
 * 2. decide (`decide` of `@convex-operator/core`, pure): what to apply and delete, the status, the events, when to
 *    come back; the upgrade/backup interlock is part of it;
 * 3. act (`act.ts`, KubeClient): the applies and deletions;
 * 4. report (`report.ts`, KubeClient and EventRecorder): the status, the events, the next step of the work queue.
 *
 * An instance being deleted is finalized (`finalizer.ts`), a paused one only reports its pause (`paused.ts`), and
 * one whose spec does not decode only reports that (`invalid-spec.ts`). Every other instance gets the finalizer
 * first.
 *
 * @module
 */
import { type DecideOptions, decide, drawEntropy, type SecretGenerator } from "@convex-operator/core"
import { Action, type EventRecorder, type KubeClient, type ObjectKey } from "@convex-operator/k8s"
import { Clock, Effect } from "effect"
import type { RetryableError } from "../../shell/errors.js"
import { fieldManager } from "../../shell/field-manager.js"
import { act } from "./act.js"
import { ensureFinalizer, finalize } from "./finalizer.js"
import { InstanceCache } from "./instance-cache.js"
import { reportInvalidSpec } from "./invalid-spec.js"
import { observeInstance, observeSurroundings } from "./observe.js"
import { holdPaused } from "./paused.js"
import { report } from "./report.js"

export interface ReconcilerSettings {
  /** The operator image (snapshot Jobs run it). */
  readonly operatorImage: string
  /** Requests one reconcile sends at once (default `defaultApplyConcurrency` of act.ts). */
  readonly applyConcurrency?: number
}

/** The operator's settings and what the cluster serves, as `decide` takes them. */
const decideOptions = (cache: InstanceCache["Type"], settings: ReconcilerSettings): DecideOptions => ({
  operator: { image: settings.operatorImage },
  podMonitors: cache.podMonitors(),
  proxyPolicies: cache.proxyPolicies()
})

/** One reconcile of the instance `key`. */
export const reconcile = (
  key: ObjectKey,
  settings: ReconcilerSettings
): Effect.Effect<Action, RetryableError, InstanceCache | KubeClient | EventRecorder | SecretGenerator> =>
  Effect.gen(function* () {
    const found = yield* observeInstance(key)
    switch (found._tag) {
      case "Gone":
        return Action.awaitChange
      case "Deleting":
        return yield* finalize(found.object)
      case "Paused":
        return yield* holdPaused(found.object, found.instance, fieldManager)
      case "Invalid":
        return yield* reportInvalidSpec(yield* ensureFinalizer(found.object), found.error)
    }
    const object = yield* ensureFinalizer(found.object)
    const { instance } = found
    const surroundings = yield* observeSurroundings(key, object, instance)

    const cache = yield* InstanceCache
    const entropy = yield* drawEntropy
    const now = new Date(yield* Clock.currentTimeMillis)
    const decision = decide(instance, { ...surroundings.observed, entropy }, now, decideOptions(cache, settings))

    const acted = yield* act(object, surroundings, decision, settings.applyConcurrency)
    return yield* report(object, instance, decision, acted, now)
  }).pipe(Effect.withSpan("reconcile", { attributes: { key } }))
