/**
 * How a reconcile writes an instance's status (report.ts after act, journal.ts before it): a server-side apply of the
 * status subresource by the operator's field manager, and, once it succeeded, the note that the versions of the
 * instance it superseded are out of date (own-writes.ts), so the next reconcile waits for this write's own event.
 *
 * @module
 */
import type { ConvexInstanceStatus } from "@convex-operator/core"
import { KubeClient, type KubeError, type KubeObject, Resource } from "@convex-operator/k8s"
import { Effect } from "effect"
import { fieldManager } from "../../shell/field-manager.js"
import { ConvexInstances } from "../../shell/resources.js"
import { InstanceCache } from "./instance-cache.js"

/**
 * Applies `status` to `object`'s status subresource; on success, `object`'s version and `cachedVersions` are noted as
 * superseded. Returns the instance as the apiserver answered.
 */
export const writeStatus = (
  object: KubeObject,
  status: ConvexInstanceStatus,
  cachedVersions: ReadonlyArray<string | undefined>
): Effect.Effect<KubeObject, KubeError, KubeClient | InstanceCache> =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const cache = yield* InstanceCache
    const name = object.metadata.name ?? ""
    const namespace = object.metadata.namespace ?? "default"
    const written = yield* kube.apply(
      ConvexInstances,
      { apiVersion: object.apiVersion, kind: object.kind, metadata: { name, namespace }, status },
      { fieldManager, force: true, subresource: "status" }
    )
    cache.ownWrites.wrote(Resource.keyOf(object), [object.metadata.resourceVersion, ...cachedVersions])
    return written
  })
