/**
 * The finalizer of a ConvexInstance. Owner references let the garbage collector remove every child, Jobs included
 * (their pods go with them); what it cannot remove are the data claims exportImport upgrades moved to or retained
 * (`status.dataClaims`), owned by nothing. So the finalizer is held only by an instance whose claims go with it
 * (`storage.pvc.deletionPolicy: Delete`, `enabled` not false): before it goes, the operator deletes the instance's
 * Jobs (so none runs against a claim being deleted) and every data claim. An instance that keeps its claims (`Retain`,
 * the default) holds none: deleting it needs no operator, and its first reconcile sends one request fewer (kube.rs'
 * garbage collection chapter: owner references for children, a finalizer for what they cannot clean up).
 *
 * An instance that holds the finalizer without needing it (its policy changed to Retain since, or it was created by
 * an earlier version, which added it to every instance) keeps it: its cleanup deletes its Jobs and, under Retain, no
 * claim; removing it would be a write for nothing.
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

/** The finalizer the operator puts on an instance whose data claims go with it. */
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
    // The claims of an instance that decodes (its status names the moved ones), judged as the finalizer was added.
    const decoded = decodeConvexInstance(object)
    if (Either.isRight(decoded) && deletesClaims(object)) {
      // Every data claim: the first one, and those exportImport upgrades moved to or retained (status.dataClaims).
      const claims = decoded.right.status?.dataClaims
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

/**
 * Whether deleting `object` deletes its data claims: `spec.backend.storage.pvc.deletionPolicy` is Delete and the claim
 * is not turned off, read from the raw spec with the Schema's defaults (`enabled` true, `deletionPolicy` Retain), so
 * that an instance whose spec does not decode is judged the same way.
 */
export const deletesClaims = (object: KubeObject): boolean => {
  const pvc = field(field(field(object.spec, "backend"), "storage"), "pvc")
  return field(pvc, "deletionPolicy") === "Delete" && field(pvc, "enabled") !== false
}

const field = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null ? (value as Readonly<Record<string, unknown>>)[key] : undefined

/**
 * How the instance controller holds its finalizer: added before the first apply to an instance whose claims go with
 * it, never to a paused one.
 */
export const finalizerOptions: Finalizer.FinalizerOptions<KubeObject> = {
  resource: ConvexInstances,
  fieldManager,
  addWhen: (object) => !reconciliationPaused(object.metadata) && deletesClaims(object)
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
