/**
 * The writes both backup controllers make the same way: a failed request becomes a retryable error naming what
 * was being done, and the status is applied (server-side, status subresource) only when it changed.
 *
 * @module
 */
import { KubeClient, type KubeObject, type Resource, retryAfterOf } from "@convex-operator/k8s"
import { Effect } from "effect"
import { equalJson } from "./equal-json.js"
import { describeError, longestWait, RetryableError } from "./errors.js"
import { fieldManager } from "./field-manager.js"

/** Maps a request's failure to a retryable error that says what was being done. */
export const retryOn = (what: string) => (error: { readonly _tag: string; readonly message: string }) =>
  new RetryableError({ message: `${what}: ${describeError(error as never)}`, ...longestWait([retryAfterOf(error)]) })

/** Applies `status` to `object` through its status subresource (server-side, field manager `convex-operator`). */
export const applyStatus = <A extends KubeObject>(
  resource: Resource.Resource<A>,
  object: KubeObject,
  status: unknown,
  what = "updating the status"
) =>
  Effect.flatMap(KubeClient, (kube) =>
    kube.apply(
      resource,
      {
        apiVersion: object.apiVersion,
        kind: object.kind,
        metadata: { name: object.metadata.name, namespace: object.metadata.namespace },
        status
      },
      { fieldManager, force: true, subresource: "status" }
    )
  ).pipe(Effect.asVoid, Effect.mapError(retryOn(what)))

/** Applies `status` to `object` through its status subresource, unless it is already what the object holds. */
export const applyStatusIfChanged = <A extends KubeObject>(
  resource: Resource.Resource<A>,
  object: KubeObject & { readonly status?: unknown },
  status: unknown
) => (equalJson(object.status, status) ? Effect.void : applyStatus(resource, object, status))
