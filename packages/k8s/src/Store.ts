/**
 * `Store`: a read-only cache of one kind, fed by a {@link Watcher} stream (kube-rs' reflector).
 * Objects are kept without `metadata.managedFields`. A relist is buffered from InitStart to InitDone
 * and swapped in at once, so readers never see half a list. Lookups by key and by named indexes
 * (e.g. owner UID, referenced Secret name).
 */
import { Deferred, Effect, Option, Stream } from "effect"
import { type KubeObject, keyOf, type ObjectKey } from "./Resource.js"
import type { WatcherEvent } from "./Watcher.js"

/** Index name → function giving the index values of an object. */
export type Indexers<A> = Readonly<Record<string, (object: A) => ReadonlyArray<string>>>

export interface Store<A> {
  readonly get: (key: ObjectKey) => Effect.Effect<Option.Option<A>>
  readonly list: Effect.Effect<ReadonlyArray<A>>
  /** Objects whose index `name` yields `value`. */
  readonly byIndex: (name: string, value: string) => Effect.Effect<ReadonlyArray<A>>
  /** Completes once the first list is in. */
  readonly ready: Effect.Effect<void>
  readonly isReady: Effect.Effect<boolean>
  /** Synchronous reads, for code already inside a fiber (mappers, metrics). */
  readonly unsafeGet: (key: ObjectKey) => A | undefined
  readonly unsafeList: () => ReadonlyArray<A>
  readonly unsafeByIndex: (name: string, value: string) => ReadonlyArray<A>
}

export interface StoreWriter<A> {
  readonly store: Store<A>
  readonly apply: (event: WatcherEvent<A>) => Effect.Effect<void>
}

/** Drops `metadata.managedFields`: they often outweigh the object itself. */
export const stripManagedFields = <A extends KubeObject>(object: A): A => {
  if (object.metadata.managedFields === undefined) return object
  const { managedFields: _, ...metadata } = object.metadata
  return { ...object, metadata }
}

/** The annotation `kubectl apply` keeps a whole copy of the object in (a Secret's data included). */
export const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

/**
 * Drops what a controller never reads and what often outweighs the object: `metadata.managedFields` and the
 * `kubectl.kubernetes.io/last-applied-configuration` annotation (controller-runtime's default cache transform).
 * Pass it as the Watcher's `transform`.
 */
export const trim = <A extends KubeObject>(object: A): A => {
  const { managedFields, annotations } = object.metadata
  const lastApplied = annotations !== undefined && lastAppliedAnnotation in annotations
  if (managedFields === undefined && !lastApplied) return object
  const { managedFields: _, annotations: __, ...metadata } = object.metadata
  if (annotations !== undefined) {
    const { [lastAppliedAnnotation]: ___, ...kept } = annotations
    if (Object.keys(kept).length > 0) Object.assign(metadata, { annotations: kept })
  }
  return { ...object, metadata }
}

export const make = <A extends KubeObject>(indexers: Indexers<A> = {}): Effect.Effect<StoreWriter<A>> =>
  Effect.map(Deferred.make<void>(), (readyLatch) => {
    let objects = new Map<ObjectKey, A>()
    let buffer: Map<ObjectKey, A> | undefined
    let ready = false
    const indexes = new Map<string, Map<string, Set<ObjectKey>>>()
    const indexed = new Map<ObjectKey, Array<[string, string]>>()

    const unindex = (key: ObjectKey) => {
      for (const [name, value] of indexed.get(key) ?? []) {
        const keys = indexes.get(name)?.get(value)
        keys?.delete(key)
        if (keys?.size === 0) indexes.get(name)?.delete(value)
      }
      indexed.delete(key)
    }
    const index = (key: ObjectKey, object: A) => {
      const entries: Array<[string, string]> = []
      for (const [name, fn] of Object.entries(indexers)) {
        let byValue = indexes.get(name)
        if (byValue === undefined) {
          byValue = new Map()
          indexes.set(name, byValue)
        }
        for (const value of fn(object)) {
          let keys = byValue.get(value)
          if (keys === undefined) {
            keys = new Set()
            byValue.set(value, keys)
          }
          keys.add(key)
          entries.push([name, value])
        }
      }
      indexed.set(key, entries)
    }
    const put = (object: A) => {
      const key = keyOf(object)
      unindex(key)
      objects.set(key, object)
      index(key, object)
    }
    const remove = (object: A) => {
      const key = keyOf(object)
      unindex(key)
      objects.delete(key)
    }

    const apply = (event: WatcherEvent<A>): Effect.Effect<void> =>
      Effect.suspend(() => {
        switch (event._tag) {
          case "InitStart":
            buffer = new Map()
            return Effect.void
          case "InitApply":
            if (buffer === undefined) buffer = new Map()
            buffer.set(keyOf(event.object), stripManagedFields(event.object))
            return Effect.void
          case "InitDone": {
            objects = buffer ?? new Map()
            buffer = undefined
            indexes.clear()
            indexed.clear()
            for (const [key, object] of objects) index(key, object)
            if (ready) return Effect.void
            ready = true
            return Deferred.succeed(readyLatch, undefined)
          }
          case "Apply":
            put(stripManagedFields(event.object))
            return Effect.void
          case "Delete":
            remove(event.object)
            return Effect.void
        }
      })

    const unsafeByIndex = (name: string, value: string): ReadonlyArray<A> => {
      const keys = indexes.get(name)?.get(value)
      return keys === undefined ? [] : [...keys].flatMap((k) => objects.get(k) ?? [])
    }
    const store: Store<A> = {
      get: (key) => Effect.sync(() => Option.fromNullable(objects.get(key))),
      list: Effect.sync(() => [...objects.values()]),
      byIndex: (name, value) => Effect.sync(() => unsafeByIndex(name, value)),
      unsafeByIndex,
      ready: Deferred.await(readyLatch),
      isReady: Effect.sync(() => ready),
      unsafeGet: (key) => objects.get(key),
      unsafeList: () => [...objects.values()]
    }
    return { store, apply }
  })

/** Passes a watcher stream through, keeping `writer`'s store up to date first. */
export const reflect =
  <A extends KubeObject>(writer: StoreWriter<A>) =>
  <E, R>(stream: Stream.Stream<WatcherEvent<A>, E, R>): Stream.Stream<WatcherEvent<A>, E, R> =>
    Stream.tap(stream, writer.apply)

/** Common indexers. */
export const indexers = {
  /** UIDs of an object's owners. */
  ownerUid: <A extends KubeObject>(object: A): ReadonlyArray<string> =>
    (object.metadata.ownerReferences ?? []).map((ref) => ref.uid),
  /** `namespace/name` keys of the controller owner, for objects owned by a controller. */
  controllerKey: <A extends KubeObject>(object: A): ReadonlyArray<string> =>
    (object.metadata.ownerReferences ?? [])
      .filter((ref) => ref.controller === true)
      .map((ref) => (object.metadata.namespace === undefined ? ref.name : `${object.metadata.namespace}/${ref.name}`))
}

/**
 * One read-only view of several Stores of the same kind that hold disjoint keys (e.g. one per watched namespace):
 * reads look in each, lists and index lookups concatenate, and it is ready once every part is.
 */
export const union = <A>(stores: ReadonlyArray<Store<A>>): Store<A> => {
  if (stores.length === 1) return stores[0]!
  const unsafeGet = (key: ObjectKey): A | undefined => {
    for (const store of stores) {
      const object = store.unsafeGet(key)
      if (object !== undefined) return object
    }
    return undefined
  }
  const unsafeList = () => stores.flatMap((store) => store.unsafeList())
  const unsafeByIndex = (name: string, value: string) => stores.flatMap((store) => store.unsafeByIndex(name, value))
  return {
    get: (key) => Effect.sync(() => Option.fromNullable(unsafeGet(key))),
    list: Effect.sync(unsafeList),
    byIndex: (name, value) => Effect.sync(() => unsafeByIndex(name, value)),
    ready: Effect.all(
      stores.map((store) => store.ready),
      { discard: true }
    ),
    isReady: Effect.map(Effect.all(stores.map((store) => store.isReady)), (flags) => flags.every(Boolean)),
    unsafeGet,
    unsafeList,
    unsafeByIndex
  }
}
