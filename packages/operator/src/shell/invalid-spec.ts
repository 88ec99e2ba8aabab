/**
 * An object whose spec passed admission but does not decode (a rule the Schema checks and no CEL rule expresses, or
 * a CRD older than the operator), reported the same way by every controller: the status core decides (a condition
 * with reason `InvalidSpec` naming each field, never a value) written once, one Warning event, a log line, and then
 * nothing until the object changes: no retry loop, no other write.
 *
 * @module
 */
import type { InvalidSpecReport } from "@convex-operator/core/internal"
import { Action, type EventRecorder, type KubeClient, type KubeObject, type Resource } from "@convex-operator/k8s"
import { Effect } from "effect"
import type { RetryableError } from "./errors.js"
import { recordEvents } from "./events.js"
import { applyStatus } from "./writes.js"

/** Writes `report` for `object` (of `resource`) and waits for the next change. */
export const reportInvalidSpec = <A extends KubeObject, S>(
  resource: Resource.Resource<A>,
  object: KubeObject,
  report: InvalidSpecReport<S>
): Effect.Effect<Action, RetryableError, KubeClient | EventRecorder> =>
  Effect.gen(function* () {
    for (const event of report.events) {
      yield* Effect.logWarning(`${object.kind} ${object.metadata.namespace}/${object.metadata.name}: ${event.message}`)
    }
    if (report.changed) yield* applyStatus(resource, object, report.status, "reporting the invalid spec")
    yield* recordEvents(object, report.events)
    return Action.awaitChange
  })
