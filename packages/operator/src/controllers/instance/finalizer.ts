/**
 * The finalizer of a ConvexInstance. Owner references let the garbage collector remove most children; before the
 * finalizer goes, the operator removes what it should not leave to chance: snapshot Jobs (with their pods), and the
 * data claims (the first, and those exportImport upgrades moved to or retained) when `storage.pvc.deletionPolicy` is
 * `Delete`. A claim with `Retain` (the default) is left alone.
 *
 * @module
 */
import { childNames, decodeConvexInstance, managedBy, reconciliationPaused } from "@convex-operator/core"
import {
  Action,
  Finalizer,
  KubeClient,
  type KubeError,
  type KubeObject,
  Resource,
  retryAfterOf
} from "@convex-operator/k8s"
import { Effect, Either } from "effect"
import { describeError, longestWait, RetryableError } from "../../shell/errors.js"
import { fieldManager } from "../../shell/field-manager.js"
import { ConvexInstances } from "../../shell/resources.js"

/** The finalizer the operator puts on every instance. */
export const finalizerName = "convex.icod.de/finalizer"

/**
 * What the operator removes itself after an instance was deleted (the garbage collector removes the rest); the
 * library's `Finalizer.run` calls it while the instance holds the finalizer, then removes the finalizer.
 */
export const cleanUp = (object: KubeObject) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const name = object.metadata.name ?? ""
    const namespace = object.metadata.namespace ?? "default"
    const fail = (what: string) => (error: KubeError) =>
      new RetryableError({
        message: `finalizing ${namespace}/${name}: ${what}: ${describeError(error)}`,
        ...longestWait([retryAfterOf(error)])
      })

    const jobs = yield* kube
      .listAll(Resource.Job, {
        namespace,
        labelSelector: `app.kubernetes.io/managed-by=${managedBy},app.kubernetes.io/instance=${name}`
      })
      .pipe(Effect.mapError(fail("listing Jobs")))
    for (const job of jobs.items) {
      yield* kube.delete(Resource.Job, job.metadata.name ?? "", { namespace, propagationPolicy: "Background" }).pipe(
        Effect.catchTag("NotFound", () => Effect.void),
        Effect.mapError(fail(`deleting Job ${job.metadata.name}`))
      )
    }
    const decoded = decodeConvexInstance(object)
    const pvc = Either.isRight(decoded) ? decoded.right.spec.backend.storage.pvc : undefined
    if (pvc?.enabled === true && pvc.deletionPolicy === "Delete") {
      // Every data claim: the first one, and those exportImport upgrades moved to or retained (status.dataClaims).
      const claims = Either.isRight(decoded) ? decoded.right.status?.dataClaims : undefined
      const all = new Set([childNames(name).backendPvc, ...(claims === undefined ? [] : [claims.current])])
      for (const retained of claims?.retained ?? []) all.add(retained)
      for (const claim of all) {
        yield* kube.delete(Resource.PersistentVolumeClaim, claim, { namespace }).pipe(
          Effect.tap(() =>
            Effect.logInfo(`deleted PersistentVolumeClaim ${namespace}/${claim} (deletionPolicy Delete)`)
          ),
          Effect.catchTag("NotFound", () => Effect.void),
          Effect.mapError(fail(`deleting PersistentVolumeClaim ${claim}`))
        )
      }
    }
    yield* Effect.logInfo(`finalized ${namespace}/${name}`)
  })

/** How the instance controller holds its finalizer: added before the first apply, except to a paused instance. */
export const finalizerOptions: Finalizer.FinalizerOptions<KubeObject> = {
  resource: ConvexInstances,
  fieldManager,
  addWhen: (object) => !reconciliationPaused(object.metadata)
}

/** A retryable error for a failed finalizer patch (a Conflict: the cache was stale). */
export const finalizerRetry = (error: Finalizer.FinalizerError) =>
  new RetryableError({ message: error.message, ...longestWait([retryAfterOf(error.cause)]) })

/** Cleans up after a deleted instance that holds the finalizer, then removes the finalizer. */
export const finalize = (object: KubeObject) =>
  Finalizer.run(
    finalizerName,
    object,
    { apply: () => Effect.succeed(Action.awaitChange), cleanup: cleanUp },
    finalizerOptions
  ).pipe(Effect.catchTag("FinalizerError", (error) => Effect.fail(finalizerRetry(error))))
