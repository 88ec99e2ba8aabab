/**
 * `Finalizer.run`: a reconcile split into `apply` and `cleanup` around one finalizer (kube-rs' `finalizer()`), so
 * that an object is not removed before its controller has cleaned up after it:
 *
 * - not being deleted, the finalizer present: `apply(object)`;
 * - not being deleted, the finalizer missing: add it, then `apply` the object the patch returned; when `addWhen`
 *   says no (e.g. the object is paused), `apply(object)` without adding it;
 * - being deleted, the finalizer present: `cleanup(object)`, then remove it (only this name);
 * - being deleted, the finalizer absent: nothing (another controller's finalizer holds the object).
 *
 * Adding and removing are JSON merge patches of `metadata.finalizers` that carry the object's resourceVersion as a
 * precondition: from a stale cache they fail with a {@link FinalizerError} whose cause is a Conflict (`stale`),
 * retryable once the cache has caught up, and never drop a finalizer someone else added meanwhile. An object
 * that is already gone counts as done. Failures of `apply` and `cleanup` pass through unchanged.
 */
import { Data, Effect } from "effect"
import type { KubeError } from "./errors.js"
import { KubeClient } from "./KubeClient.js"
import { type KubeObject, keyOf, type ObjectKey, type Resource } from "./Resource.js"
import { Action } from "./WorkQueue.js"

/** Adding or removing the finalizer failed. */
export class FinalizerError extends Data.TaggedError("FinalizerError")<{
  readonly action: "add" | "remove"
  readonly finalizer: string
  readonly object: ObjectKey
  readonly cause: KubeError
  readonly message: string
}> {
  /** The object changed since it was read (a Conflict): retry once the cache has the newer version. */
  get stale(): boolean {
    return this.cause._tag === "Conflict"
  }
}

export interface Handlers<A extends KubeObject, E1, R1, E2, R2> {
  /** The object exists and is not being deleted. */
  readonly apply: (object: A) => Effect.Effect<Action, E1, R1>
  /** The object is being deleted and still holds the finalizer: undo what `apply` did outside the object. */
  readonly cleanup: (object: A) => Effect.Effect<void, E2, R2>
}

export interface FinalizerOptions<A extends KubeObject> {
  readonly resource: Resource<A>
  readonly fieldManager: string
  /** Whether to add the missing finalizer before `apply` (default: always). Cleanup runs whenever it is there. */
  readonly addWhen?: (object: A) => boolean
}

/** Whether `object` holds the finalizer `name`. */
export const has = (object: KubeObject, name: string): boolean => (object.metadata.finalizers ?? []).includes(name)

/** Whether `object` is being deleted (it has a deletionTimestamp). */
export const isDeleting = (object: KubeObject): boolean => object.metadata.deletionTimestamp !== undefined

const patchFinalizers = <A extends KubeObject>(
  object: A,
  name: string,
  action: "add" | "remove",
  options: FinalizerOptions<A>
) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const current = object.metadata.finalizers ?? []
    const finalizers = action === "add" ? [...current, name] : current.filter((f) => f !== name)
    return yield* kube
      .patch(
        options.resource,
        object.metadata.name ?? "",
        { metadata: { finalizers, resourceVersion: object.metadata.resourceVersion } },
        { namespace: object.metadata.namespace, type: "merge", fieldManager: options.fieldManager }
      )
      .pipe(
        Effect.mapError(
          (cause) =>
            new FinalizerError({
              action,
              finalizer: name,
              object: keyOf(object),
              cause,
              message: `${action === "add" ? "adding" : "removing"} the finalizer ${name} of ${options.resource.kind} ${keyOf(object)}: ${cause._tag}: ${cause.message}`
            })
        )
      )
  })

const gone = (error: FinalizerError) => error.cause._tag === "NotFound"

/** Runs `apply` or `cleanup` for `object` with the finalizer `name` kept in step (see the module comment). */
export const run = <A extends KubeObject, E1, R1, E2, R2>(
  name: string,
  object: A,
  handlers: Handlers<A, E1, R1, E2, R2>,
  options: FinalizerOptions<A>
): Effect.Effect<Action, E1 | E2 | FinalizerError, R1 | R2 | KubeClient> =>
  Effect.gen(function* () {
    if (isDeleting(object)) {
      if (!has(object, name)) return Action.awaitChange
      yield* handlers.cleanup(object)
      yield* patchFinalizers(object, name, "remove", options).pipe(
        Effect.asVoid,
        Effect.catchIf(gone, () => Effect.void)
      )
      yield* Effect.logDebug(`removed the finalizer ${name} of ${options.resource.kind} ${keyOf(object)}`)
      return Action.awaitChange
    }
    if (has(object, name) || !(options.addWhen?.(object) ?? true)) return yield* handlers.apply(object)
    const added = yield* patchFinalizers(object, name, "add", options).pipe(
      Effect.catchIf(gone, () => Effect.succeed(undefined))
    )
    // Gone meanwhile: its deletion event drops the key.
    if (added === undefined) return Action.awaitChange
    return yield* handlers.apply(added)
  })
