/**
 * The status of a paused instance (see `api/pause.ts`): the previous status as it was (an upgrade in progress keeps
 * its step, so it resumes from there), phase `Paused`, and the condition `ReconciliationPaused=True` naming the
 * annotation and how to resume. The condition is announced once, by a Normal event, when it appears; resuming
 * drops it and announces that once too. Nothing of the status changes after that first write while the pause lasts.
 *
 * @module
 */

import type { Condition, ConvexInstance, ConvexInstanceStatus } from "../../api/index.js"
import { pauseAnnotation } from "../../api/pause.js"
import { applyConditions, findCondition, pausedConditionType } from "./conditions.js"
import type { DecidedEvent } from "./events.js"

/** The status and events of a paused instance. */
export const pausedStatus = (
  instance: ConvexInstance,
  now: Date
): { readonly status: ConvexInstanceStatus; readonly events: ReadonlyArray<DecidedEvent> } => {
  const previous = instance.status ?? {}
  // Once written, the paused status stays as it is, also when the spec changes meanwhile: the only write of a pause.
  if (previous.phase === "Paused" && findCondition(previous.conditions, pausedConditionType)?.status === "True") {
    return { status: previous, events: [] }
  }
  const name = instance.metadata.name ?? "<name>"
  const message =
    `the annotation ${pauseAnnotation} is "true": the operator changes nothing for this instance (a running Job ` +
    `finishes on its own; an upgrade waits at its step); remove the annotation to resume ` +
    `(kubectl annotate convexinstance ${name} ${pauseAnnotation}-)`
  const conditions = applyConditions(
    previous.conditions,
    [{ type: pausedConditionType, status: "True", reason: "Paused", message }],
    instance.metadata.generation,
    now
  )
  const announced = findCondition(previous.conditions, pausedConditionType)?.status === "True"
  return {
    status: { ...previous, phase: "Paused", conditions },
    events: announced ? [] : [{ type: "Normal", reason: "ReconciliationPaused", action: "Pause", message }]
  }
}

/**
 * The conditions without `ReconciliationPaused` (an unpaused decision drops it), and the event announcing the
 * resume when it was there.
 */
export const resumedConditions = (
  conditions: ReadonlyArray<Condition> | undefined
): { readonly conditions: ReadonlyArray<Condition> | undefined; readonly events: ReadonlyArray<DecidedEvent> } => {
  if (findCondition(conditions, pausedConditionType) === undefined) return { conditions, events: [] }
  return {
    conditions: conditions?.filter((condition) => condition.type !== pausedConditionType),
    events: [
      {
        type: "Normal",
        reason: "ReconciliationResumed",
        action: "Pause",
        message: `the annotation ${pauseAnnotation} is no longer "true": reconciling resumes`
      }
    ]
  }
}
