/**
 * An instance whose spec passed admission but does not decode: core's `invalidSpecStatus` (`Ready=False`, reason
 * `InvalidSpec`, naming each field) written once through the status subresource, one Warning event, and then nothing
 * until the spec changes: no retry loop, no other write.
 *
 * @module
 */
import type { InvalidConvexInstance } from "@convex-operator/core"
import { invalidSpecStatus } from "@convex-operator/core/internal"
import { Action, type EventRecorder, KubeClient, type KubeObject } from "@convex-operator/k8s"
import { Clock, Effect } from "effect"
import { describeError, RetryableError } from "../../shell/errors.js"
import { recordEvents } from "../../shell/events.js"
import { fieldManager } from "../../shell/field-manager.js"
import { ConvexInstances } from "../../shell/resources.js"

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
    if (invalid.changed) {
      const kube = yield* KubeClient
      yield* kube
        .apply(
          ConvexInstances,
          {
            apiVersion: object.apiVersion,
            kind: object.kind,
            metadata: { name: object.metadata.name, namespace: object.metadata.namespace },
            status: invalid.status
          },
          { fieldManager, force: true, subresource: "status" }
        )
        .pipe(
          Effect.mapError(
            (error) => new RetryableError({ message: `reporting the invalid spec: ${describeError(error)}` })
          )
        )
    }
    yield* recordEvents(object, invalid.events)
    return Action.awaitChange
  })
