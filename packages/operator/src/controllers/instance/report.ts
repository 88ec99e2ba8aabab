/**
 * Report, the last step of a reconcile: the decided status with the failed writes folded in (written through the
 * status subresource only when it differs from what the instance holds), the events, and what the work queue should
 * do next: retry with backoff, wait for a change, or come back after the decided interval.
 *
 * @module
 */
import type { ConvexInstance, Decision } from "@convex-operator/core"
import { childNames } from "@convex-operator/core"
import { transitionEvents, withApplyFailures } from "@convex-operator/core/internal"
import { Action, type EventRecorder, type KubeClient, type KubeObject, retryAfterOf } from "@convex-operator/k8s"
import { Effect, Option } from "effect"
import { equalJson } from "../../shell/equal-json.js"
import { describeError, longestWait, RetryableError } from "../../shell/errors.js"
import { recordEvents } from "../../shell/events.js"
import { describeForbidden } from "../../shell/forbidden.js"
import { ConvexInstances } from "../../shell/resources.js"
import { type Acted, retryable } from "./act.js"
import type { InstanceCache } from "./instance-cache.js"
import { writeStatus } from "./status-write.js"

/**
 * Writes the status and events of one reconcile of `object` and says what comes next. A status written supersedes
 * `object` and the `cachedVersions` of it in the cache (own-writes.ts).
 */
export const report = (
  object: KubeObject,
  instance: ConvexInstance,
  decision: Decision,
  acted: Acted,
  now: Date,
  cachedVersions: ReadonlyArray<string | undefined> = []
): Effect.Effect<Action, RetryableError, KubeClient | EventRecorder | InstanceCache> =>
  Effect.gen(function* () {
    const name = object.metadata.name ?? ""
    const namespace = object.metadata.namespace ?? "default"
    const retry = [...acted.retry]
    const waits = [acted.retryAfterMillis]
    const status = withApplyFailures(decision.status, acted.failures, childNames(name).dashboard, now)
    if (!equalJson(object.status, status)) {
      yield* writeStatus(object, status, cachedVersions).pipe(
        Effect.catchAll((error) =>
          error._tag === "Forbidden"
            ? Effect.sync(
                () =>
                  void retry.push(
                    `updating status: ${describeForbidden(error, {
                      verbs: ["patch"],
                      resource: `${ConvexInstances.plural}/status`,
                      group: ConvexInstances.group,
                      namespace
                    })}`
                  )
              )
            : retryable(error)
              ? Effect.sync(() => {
                  retry.push(`updating status: ${describeError(error)}`)
                  waits.push(retryAfterOf(error))
                })
              : Effect.logError(`updating the status of ${namespace}/${name}: ${describeError(error)}`)
        )
      )
    }
    const events =
      acted.failures.length === 0
        ? decision.events
        : transitionEvents(instance.status?.conditions, status.conditions ?? [])
    yield* recordEvents(object, [...events, ...acted.events])

    if (retry.length > 0) return yield* new RetryableError({ message: retry.join("; "), ...longestWait(waits) })
    if (acted.failures.length > 0) {
      yield* Effect.logWarning(
        `${namespace}/${name}: ${acted.failures.map((failure) => `${failure.kind} ${failure.name}: ${failure.message}`).join("; ")}`
      )
      return Action.awaitChange
    }
    return Option.match(decision.requeueAfter, {
      onNone: () => Action.awaitChange,
      onSome: (duration) => Action.requeueAfter(duration)
    })
  })
