/**
 * An instance whose spec passed admission but does not decode: core's `invalidSpecStatus` (`Ready=False`, reason
 * `InvalidSpec`, naming each field) written once through the status subresource, one Warning event, and then nothing
 * until the spec changes: no retry loop, no other write.
 *
 * @module
 */
import type { InvalidConvexInstance } from "@convex-operator/core"
import { invalidSpecStatus } from "@convex-operator/core/internal"
import { Action, type EventRecorder, type KubeClient, type KubeObject } from "@convex-operator/k8s"
import { Clock, Effect } from "effect"
import type { RetryableError } from "../../shell/errors.js"
import { recordEvents } from "../../shell/events.js"
import { ConvexInstances } from "../../shell/resources.js"
import { applyStatus } from "../../shell/writes.js"

/** Reports the invalid spec of `object` and waits for the next change. */
export const reportInvalidSpec = (
  object: KubeObject,
  error: InvalidConvexInstance
): Effect.Effect<Action, RetryableError, KubeClient | EventRecorder> =>
  Effect.gen(function* () {
    const now = new Date(yield* Clock.currentTimeMillis)
    const invalid = invalidSpecStatus(object, error, now)
    yield* Effect.logWarning(`${invalid.events[0]?.message ?? "the spec does not pass validation"}`).pipe(
      Effect.when(() => invalid.events.length > 0)
    )
    if (invalid.changed) yield* applyStatus(ConvexInstances, object, invalid.status, "reporting the invalid spec")
    yield* recordEvents(object, invalid.events)
    return Action.awaitChange
  })
