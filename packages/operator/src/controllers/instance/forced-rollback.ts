/**
 * The shell of core's forced rollback (`stalePods`): when the cached backend StatefulSet is short of ready pods,
 * list its pods, read the StatefulSet again (after the list, so its status names every revision a listed pod can
 * carry), and delete each pod core names, with a UID precondition so that a pod is deleted at most once and its
 * replacement never. Each deletion is reported as an event on the instance.
 *
 * @module
 */
import type { KubeObject as CoreObject, DecidedEvent } from "@convex-operator/core"
import { forcedRollbackEvent, mayHoldStalePod, stalePods } from "@convex-operator/core/internal"
import { KubeClient, type KubeObject, Resource } from "@convex-operator/k8s"
import { Effect } from "effect"
import { describeError } from "../../shell/errors.js"

/** What the forced rollback did: events to record, and failures that make the reconcile retry. */
export interface ForcedRollback {
  readonly events: ReadonlyArray<DecidedEvent>
  readonly retry: ReadonlyArray<string>
}

const nothing: ForcedRollback = { events: [], retry: [] }

const selectorOf = (statefulSet: KubeObject): string | undefined => {
  const labels = (statefulSet.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector
    ?.matchLabels
  if (labels === undefined || Object.keys(labels).length === 0) return undefined
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",")
}

/** Deletes the pods of a reverted revision that hold the backend StatefulSet `cached` (see core's `stalePods`). */
export const forceRollback = (cached: KubeObject | undefined, namespace: string) =>
  Effect.gen(function* () {
    if (cached === undefined || !mayHoldStalePod(cached as CoreObject)) return nothing
    const selector = selectorOf(cached)
    const name = cached.metadata.name ?? ""
    if (selector === undefined) return nothing
    const kube = yield* KubeClient
    const pods = yield* kube.list(Resource.Pod, { namespace, labelSelector: selector })
    const statefulSet = yield* kube.get(Resource.StatefulSet, name, { namespace })
    const stale = stalePods(statefulSet as CoreObject, pods.items as ReadonlyArray<CoreObject>)
    const events: Array<DecidedEvent> = []
    const retry: Array<string> = []
    for (const pod of stale) {
      yield* kube.delete(Resource.Pod, pod.name, { namespace, preconditions: { uid: pod.uid } }).pipe(
        Effect.tap(() => Effect.logInfo(`deleted pod ${namespace}/${pod.name} of reverted revision ${pod.revision}`)),
        Effect.tap(() => Effect.sync(() => void events.push(forcedRollbackEvent(name, pod)))),
        // Gone already, or replaced (another UID: the precondition fails with a conflict): nothing to do.
        Effect.catchTags({ NotFound: () => Effect.void, Conflict: () => Effect.void }),
        Effect.catchAll((error) =>
          Effect.sync(() => void retry.push(`deleting pod ${pod.name}: ${describeError(error)}`))
        )
      )
    }
    return { events, retry }
  }).pipe(
    Effect.catchAll((error) =>
      Effect.succeed<ForcedRollback>({
        events: [],
        retry: [`looking for pods of a reverted backend revision: ${describeError(error)}`]
      })
    )
  )
