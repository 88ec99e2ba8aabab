/**
 * Owner references: every child is owned by its ConvexInstance (a controller reference, so the garbage collector
 * deletes it with the instance), except a data claim whose deletion policy is Retain.
 *
 * @module
 */
import type { ConvexInstance, OwnerReference } from "../api/index.js"

/** The controller owner reference to `instance`, or none while its uid is unknown (it has not been created yet). */
export const controllerRef = (instance: ConvexInstance): ReadonlyArray<OwnerReference> =>
  instance.metadata.uid === undefined
    ? []
    : [
        {
          apiVersion: instance.apiVersion,
          kind: instance.kind,
          name: instance.metadata.name ?? "",
          uid: instance.metadata.uid,
          controller: true,
          blockOwnerDeletion: true
        }
      ]
