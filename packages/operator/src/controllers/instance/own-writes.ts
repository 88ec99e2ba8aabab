/**
 * Reading our own writes. The cache learns of what a reconcile wrote only when the watch events arrive, and the next
 * reconcile of the instance can run before that (woken by the event of another object it wrote). Deciding from the
 * older picture does harm:
 *
 * - `status` is the journal of the sagas (which upgrade step ran, which restore finished). Deciding again from the
 *   old journal could redo a step just finished: the fault suite saw the reconcile after an upgrade ended find the
 *   upgrade still at its last step and create the snapshot Role again that the end had deleted. So a successful
 *   status write notes the versions of the instance it superseded, and a reconcile that finds one of them in the
 *   cache waits for the change instead (the write's own watch event wakes the instance again).
 * - Children: a generated Secret not yet seen would be generated again (a new instance secret, admin key and roll),
 *   and a child applied or deleted a moment ago would be applied or deleted again. So each successful apply notes
 *   the object the apiserver answered with, each deletion its absence, and `observe` sees them in place of the cached
 *   version they superseded until the cache has moved past it.
 *
 * Versions are only compared for equality, as the API asks of resourceVersions; a note the cache has moved past is
 * dropped when it is next read, and every note of an instance when the instance goes.
 *
 * @module
 */
import { type KubeObject, type ObjectKey, Store } from "@convex-operator/k8s"

export interface OwnWrites {
  /** Notes that a status write of `key` succeeded: the cache's `versions` of it are out of date. */
  readonly wrote: (key: ObjectKey, versions: ReadonlyArray<string | undefined>) => void
  /** Whether `version` of `key` is one a status write superseded (else the note of `key` is dropped). */
  readonly superseded: (key: ObjectKey, version: string | undefined) => boolean
  /**
   * Notes a child of the instance `key` written: `written` as the apiserver answered (undefined: deleted), in place
   * of the version `before` the reconcile decided from (undefined: it had none).
   */
  readonly wroteChild: (
    key: ObjectKey,
    before: KubeObject | undefined,
    kind: string,
    written: KubeObject | undefined
  ) => void
  /** A watch event of `child` (of the instance `key`) reached the cache: what was noted of it is out of date. */
  readonly seen: (key: ObjectKey, child: KubeObject) => void
  /** The cached children of `key` with the noted writes in place of the versions they superseded. */
  readonly children: (key: ObjectKey, cached: ReadonlyArray<KubeObject>) => ReadonlyArray<KubeObject>
  /** Drops what was noted of `key` (the instance is gone). */
  readonly forget: (key: ObjectKey) => void
}

interface ChildNote {
  /** The version the write superseded; undefined: the child did not exist. */
  readonly supersedes: string | undefined
  /** The child as written; undefined: deleted. */
  readonly written: KubeObject | undefined
}

const childKey = (kind: string, name: string | undefined) => `${kind}/${name ?? ""}`

export const makeOwnWrites = (): OwnWrites => {
  const statusNotes = new Map<ObjectKey, ReadonlySet<string>>()
  const childNotes = new Map<ObjectKey, Map<string, ChildNote>>()
  return {
    wrote: (key, versions) => {
      const known = versions.filter((version): version is string => version !== undefined)
      if (known.length > 0) statusNotes.set(key, new Set(known))
    },
    superseded: (key, version) => {
      const note = statusNotes.get(key)
      if (note === undefined) return false
      if (version !== undefined && note.has(version)) return true
      statusNotes.delete(key)
      return false
    },
    wroteChild: (key, before, kind, written) => {
      const notes = childNotes.get(key) ?? new Map<string, ChildNote>()
      childNotes.set(key, notes)
      notes.set(childKey(kind, written?.metadata.name ?? before?.metadata.name), {
        supersedes: before?.metadata.resourceVersion,
        written: written === undefined ? undefined : Store.trim(written)
      })
    },
    seen: (key, child) => {
      const notes = childNotes.get(key)
      if (notes?.delete(childKey(child.kind, child.metadata.name)) === true && notes.size === 0) childNotes.delete(key)
    },
    children: (key, cached) => {
      const notes = childNotes.get(key)
      if (notes === undefined) return cached
      const byKey = new Map(cached.map((child) => [childKey(child.kind, child.metadata.name), child]))
      for (const [at, note] of notes) {
        // Caught up: the cache no longer holds the version the write superseded.
        if (byKey.get(at)?.metadata.resourceVersion !== note.supersedes) {
          notes.delete(at)
          continue
        }
        if (note.written === undefined) byKey.delete(at)
        else byKey.set(at, note.written)
      }
      if (notes.size === 0) childNotes.delete(key)
      return [...byKey.values()]
    },
    forget: (key) => {
      statusNotes.delete(key)
      childNotes.delete(key)
    }
  }
}
