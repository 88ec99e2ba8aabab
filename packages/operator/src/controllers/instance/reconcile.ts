/**
 * One reconcile of a ConvexInstance, as four steps over services:
 *
 * 1. observe (`observe.ts`, InstanceCache): the instance, decoded once; for an active one, its children, the objects
 *    it references and its backups;
 * 2. decide (`decide` of `@convex-operator/core`, pure): what to apply and delete, the status, the events, when to
 *    come back; the upgrade/backup interlock is part of it, and so are the moves the instance's sagas propose
 *    (sagas/: the upgrade, restart and restore fibers see each reconcile's observation and propose; the reconcile
 *    journals and acts);
 * 3. act (`act.ts`, KubeClient): the applies and deletions; when they begin a saga's step, the status that journals
 *    the step is written first (`journal.ts`);
 * 4. report (`report.ts`, KubeClient and EventRecorder): the status, the events, the next step of the work queue.
 *
 * The library's `Finalizer.run` wraps the steps: it adds the finalizer before the first of them to an instance whose
 * data claims go with it (not to a paused one, `finalizer.ts`), and runs the cleanup of `finalizer.ts` instead of them
 * once an instance that holds it is being deleted. A paused instance only reports its pause (`paused.ts`), one whose
 * spec does not decode only reports that (`invalid-spec.ts`).
 *
 * @module
 */
import {
  type ConvexInstance,
  type DecideOptions,
  type Decision,
  decide,
  drawEntropy,
  type Entropy,
  type SecretGenerator
} from "@convex-operator/core"
import { transitionEvents } from "@convex-operator/core/internal"
import {
  Action,
  type EventRecorder,
  Finalizer,
  type KubeClient,
  type KubeObject,
  type ObjectKey
} from "@convex-operator/k8s"
import { Clock, Effect } from "effect"
import type { RetryableError } from "../../shell/errors.js"
import { act } from "./act.js"
import { cleanUp, finalizerName, finalizerOptions, finalizerRetry } from "./finalizer.js"
import { InstanceCache } from "./instance-cache.js"
import { reportInvalidSpec } from "./invalid-spec.js"
import { journalBeforeAct } from "./journal.js"
import { observeInstance, observeSurroundings, reobserveChildren, type Surroundings } from "./observe.js"
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

/**
 * The reconcile of an instance that is not being deleted (the finalizer, when due, is on it already); `cached` is
 * the instance as the cache held it (before the finalizer was added, if it was).
 */
const reconcileInstance = (key: ObjectKey, cached: KubeObject, object: KubeObject, settings: ReconcilerSettings) =>
  Effect.gen(function* () {
    const found = observeInstance(object)
    switch (found._tag) {
      case "Paused":
        return yield* holdPaused(found.object, found.instance)
      case "Invalid":
        return yield* reportInvalidSpec(found.object, found.error)
    }
    const { instance } = found
    const surroundings = yield* observeSurroundings(key, object, instance)

    const cache = yield* InstanceCache
    // The instance's sagas see what this reconcile observed; the moves they proposed (each taken only if it still
    // leaves the journaled step) are decided, journaled and acted on here.
    yield* cache.sagas.observed(key, { instance, objects: surroundings.observed.objects })
    const proposals = cache.sagas.proposals(key)
    const entropy = yield* drawEntropy
    const now = new Date(yield* Clock.currentTimeMillis)
    const observed = { ...surroundings.observed, entropy, ...proposals }
    const decision = decide(instance, observed, now, decideOptions(cache, settings))

    const journaled = yield* journalBeforeAct(object, decision, [cached.metadata.resourceVersion])
    const acted = yield* act(journaled.object, surroundings, decision, settings.applyConcurrency)
    const settled = acted.wrote
      ? yield* decideAfterAct(key, journaled.object, instance, surroundings, decision, entropy, now, settings)
      : decision
    return yield* report(journaled.object, instance, settled, acted, now, journaled.superseded)
  })

/**
 * The decision as it stands once act's writes are in: decide again, from the status just decided and what the
 * children are now (act's writes stand in for the cache, own-writes.ts), and report that status. Without it, the
 * first status of a new instance says every child is being applied, and the next reconcile (woken by their watch
 * events) writes the status again only to say they are in place. Only the status, the wake-up and the transitions
 * between the two statuses are taken: nothing the second decision would do is done by this reconcile (the next one,
 * woken by the watch events of these writes, does it), and the events of actions are the first decision's.
 */
const decideAfterAct = (
  key: ObjectKey,
  object: KubeObject,
  instance: ConvexInstance,
  before: Surroundings,
  decision: Decision,
  entropy: Entropy,
  now: Date,
  settings: ReconcilerSettings
) =>
  Effect.gen(function* () {
    const cache = yield* InstanceCache
    const journaled: ConvexInstance = { ...instance, status: decision.status }
    const surroundings = yield* reobserveChildren(key, object, before)
    const after = decide(journaled, { ...surroundings.observed, entropy }, now, decideOptions(cache, settings))
    return {
      ...decision,
      status: after.status,
      requeueAfter: after.requeueAfter,
      events: [...decision.events, ...transitionEvents(decision.status.conditions, after.status.conditions ?? [])]
    } satisfies Decision
  })

/** One reconcile of the instance `key`: its cleanup when it is being deleted, else the four steps. */
export const reconcile = (
  key: ObjectKey,
  settings: ReconcilerSettings
): Effect.Effect<Action, RetryableError, InstanceCache | KubeClient | EventRecorder | SecretGenerator> =>
  Effect.gen(function* () {
    const cache = yield* InstanceCache
    const object = cache.instances.unsafeGet(key)
    if (object === undefined) return Action.awaitChange
    // The cache has not seen this reconcile's last status write yet: its watch event wakes the instance again.
    if (cache.ownWrites.superseded(key, object.metadata.resourceVersion)) return Action.awaitChange
    return yield* Finalizer.run(
      finalizerName,
      object,
      { apply: (current) => reconcileInstance(key, object, current, settings), cleanup: cleanUp },
      finalizerOptions
    ).pipe(Effect.catchTag("FinalizerError", (error) => Effect.fail(finalizerRetry(error))))
  }).pipe(Effect.withSpan("reconcile", { attributes: { key } }))
