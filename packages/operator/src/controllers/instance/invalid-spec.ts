/**
 * An instance whose spec passed admission but does not decode: core's `invalidSpecStatus` (`Ready=False`, reason
 * `InvalidSpec`, naming each field) reported as every controller reports an invalid spec (shell/invalid-spec.ts).
 *
 * @module
 */
import type { InvalidConvexInstance } from "@convex-operator/core"
import { invalidSpecStatus } from "@convex-operator/core/internal"
import type { Action, EventRecorder, KubeClient, KubeObject } from "@convex-operator/k8s"
import { Clock, Effect } from "effect"
import type { RetryableError } from "../../shell/errors.js"
import { reportInvalidSpec as report } from "../../shell/invalid-spec.js"
import { ConvexInstances } from "../../shell/resources.js"

/** Reports the invalid spec of `object` and waits for the next change. */
export const reportInvalidSpec = (
  object: KubeObject,
  error: InvalidConvexInstance
): Effect.Effect<Action, RetryableError, KubeClient | EventRecorder> =>
  Effect.flatMap(Clock.currentTimeMillis, (millis) =>
    report(ConvexInstances, object, invalidSpecStatus(object, error, new Date(millis)))
  )
