/**
 * Reading our own status writes. `status` is the journal of the sagas (which upgrade step ran, which restore
 * finished), and the cache learns of a status write only when its watch event arrives. A reconcile woken before that
 * (by an event of a child the last one created or deleted) would decide again from the journal as it was, and could
 * redo a step the last reconcile just finished: found by the fault suite, where the reconcile after an upgrade ended
 * saw the upgrade still at its last step and created the snapshot Role again that the end had deleted.
 *
 * So a successful status write notes, per instance, the versions it superseded, and a reconcile that finds one of
 * them in the cache waits for the change instead (the write's own watch event wakes the instance again). Versions are
 * only compared for equality, as the API asks of resourceVersions; a version the cache has moved past is forgotten.
 *
 * @module
 */
import type { ObjectKey } from "@convex-operator/k8s"

export interface OwnWrites {
  /** Notes that a status write of `key` succeeded: the cache's `versions` of it are out of date. */
  readonly wrote: (key: ObjectKey, versions: ReadonlyArray<string | undefined>) => void
  /** Whether `version` of `key` is one a status write superseded (else the note of `key` is dropped). */
  readonly superseded: (key: ObjectKey, version: string | undefined) => boolean
  /** Drops what was noted of `key` (the instance is gone). */
  readonly forget: (key: ObjectKey) => void
}

export const makeOwnWrites = (): OwnWrites => {
  const notes = new Map<ObjectKey, ReadonlySet<string>>()
  return {
    wrote: (key, versions) => {
      const known = versions.filter((version): version is string => version !== undefined)
      if (known.length > 0) notes.set(key, new Set(known))
    },
    superseded: (key, version) => {
      const note = notes.get(key)
      if (note === undefined) return false
      if (version !== undefined && note.has(version)) return true
      notes.delete(key)
      return false
    },
    forget: (key) => void notes.delete(key)
  }
}
