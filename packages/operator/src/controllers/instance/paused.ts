/**
 * A paused instance (`convex.icod.de/pause-reconciliation: "true"`, see core's `api/pause.ts`): the reconciler
 * reads nothing else, applies and deletes nothing, adds no finalizer and starts no Job. It writes the status once,
 * when core's paused decision differs from it (phase Paused and the ReconciliationPaused condition), and records
 * that decision's event. A paused instance in that state costs no API request.
 *
 * @module
 */
import { type ConvexInstance, decide, drawEntropy } from "@convex-operator/core"
import { Action, type KubeObject } from "@convex-operator/k8s"
import { Clock, Effect } from "effect"
import { recordEvents } from "../../shell/events.js"
import { ConvexInstances } from "../../shell/resources.js"
import { applyStatus } from "../../shell/writes.js"

/** Reports `instance` as paused (the status write only when it changed) and waits for the next change. */
export const holdPaused = (object: KubeObject, instance: ConvexInstance) =>
  Effect.gen(function* () {
    const now = new Date(yield* Clock.currentTimeMillis)
    // Nothing is observed: the paused decision reads only the instance (the entropy goes unused).
    const decision = decide(instance, { objects: [], entropy: yield* drawEntropy }, now)
    if (decision.statusChanged) {
      yield* applyStatus(ConvexInstances, object, decision.status, "updating the paused status")
    }
    yield* recordEvents(object, decision.events)
    return Action.awaitChange
  })
