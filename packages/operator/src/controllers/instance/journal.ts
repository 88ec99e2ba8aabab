/**
 * Journal before act. `status` is where the sagas (upgrade, restore, periodic restart) keep their step, so that a
 * restarted operator resumes at it. When a decision moves a saga to a new step and has children to write for it, the
 * status is written first and the children after: an operator killed between the two finds the step journaled and
 * does its writes (a step's Job or backup is created when absent), rather than finding writes of a step no status
 * names and deciding from the step before (which once deleted and re-created an upgrade's snapshot RBAC). A restart
 * journaled and then lost to a kill is not repeated (at most once, as a step should be).
 *
 * Only the saga fields count: a new instance's first status (its conditions) is written after act, as before, so it
 * costs no extra write.
 *
 * @module
 */
import type { ConvexInstanceStatus, Decision } from "@convex-operator/core"
import { type KubeClient, type KubeObject, retryAfterOf } from "@convex-operator/k8s"
import { Effect } from "effect"
import { equalJson } from "../../shell/equal-json.js"
import { describeError, longestWait, RetryableError } from "../../shell/errors.js"
import type { InstanceCache } from "./instance-cache.js"
import { writeStatus } from "./status-write.js"

/** The fields of the status that journal the sagas' steps. */
const sagaFields = ["upgrade", "restore", "lastRestartTime", "dataClaims"] as const

/** Whether `decided` moves a saga away from what `current` journals. */
export const movesSaga = (current: ConvexInstanceStatus | undefined, decided: ConvexInstanceStatus) =>
  sagaFields.some((field) => !equalJson(current?.[field], decided[field]))

/** What the journal step left: the instance as the reconcile goes on with it, and the versions it superseded. */
export interface Journaled {
  readonly object: KubeObject
  readonly superseded: ReadonlyArray<string | undefined>
}

/**
 * Writes the decided status before act when it moves a saga and act has writes to make; else leaves `object` as it
 * is. `cachedVersions` are the versions of the instance the cache held (superseded too, see own-writes.ts). A failed
 * write stops the reconcile before act (retried with backoff): nothing of the new step is written unjournaled.
 */
export const journalBeforeAct = (
  object: KubeObject,
  decision: Decision,
  cachedVersions: ReadonlyArray<string | undefined>
): Effect.Effect<Journaled, RetryableError, KubeClient | InstanceCache> =>
  Effect.gen(function* () {
    const actsNothing = decision.apply.length === 0 && decision.delete.length === 0
    const untouched = { object, superseded: cachedVersions }
    if (actsNothing || !movesSaga(object.status as ConvexInstanceStatus | undefined, decision.status)) return untouched
    const written = yield* writeStatus(object, decision.status, cachedVersions).pipe(
      Effect.mapError(
        (error) =>
          new RetryableError({
            message: `journaling the next step in the status: ${describeError(error)}`,
            ...longestWait([retryAfterOf(error)])
          })
      )
    )
    const superseded = [object.metadata.resourceVersion, ...cachedVersions]
    return { object: written, superseded }
  })
