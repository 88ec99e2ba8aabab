/**
 * `Controller`: watches a primary kind, the kinds it owns and any kinds mapped onto it, keeps them in
 * Stores, and runs `reconcile` per primary object through a {@link WorkQueue}:
 *
 * - triggers: the primary object changed; an owned object (by its controller ownerReference) changed;
 *   a watched object changed and `map` names primaries (e.g. a Secret → the instances that use it);
 *   a periodic resync (default 10 h) as a safety net;
 * - reconciles start once every cache has synced, and see the primary from the Store (latest state);
 * - a deleted primary's running reconcile is interrupted and its wake-ups dropped;
 * - closing the scope drains the queue gracefully (see WorkQueue).
 */
import { Duration, Effect, type Scope, Stream } from "effect"
import type { KubeClient } from "./KubeClient.js"
import {
  type KubeObject,
  keyOf,
  type ObjectKey,
  key as objectKey,
  type Resource,
  type ResourceType
} from "./Resource.js"
import * as Store from "./Store.js"
import * as Watcher from "./Watcher.js"
import * as WorkQueue from "./WorkQueue.js"

export interface OwnedKind {
  readonly resource: Resource<KubeObject>
  readonly watcher?: Watcher.WatcherOptions
}

export interface MappedKind<A extends KubeObject> {
  readonly resource: Resource<KubeObject>
  readonly watcher?: Watcher.WatcherOptions
  /** The primaries to reconcile when `object` changes; `primaries` is the primary Store. */
  readonly map: (object: KubeObject, primaries: Store.Store<A>) => ReadonlyArray<ObjectKey>
  /** Extra indexes on this kind's Store. */
  readonly indexers?: Store.Indexers<KubeObject>
}

export interface ReconcileContext<A extends KubeObject> {
  readonly key: ObjectKey
  /** Failures of this key since its last success. */
  readonly attempt: number
  readonly primaries: Store.Store<A>
  /** The Store of an owned or mapped kind. */
  readonly store: (resource: ResourceType) => Store.Store<KubeObject>
  /** Objects of an owned kind whose ownerReferences name the primary object. */
  readonly owned: (resource: ResourceType) => Effect.Effect<ReadonlyArray<KubeObject>>
}

export interface ControllerOptions<A extends KubeObject, E, R> {
  /** Metric label and log prefix. */
  readonly name: string
  readonly resource: Resource<A>
  readonly watcher?: Watcher.WatcherOptions
  readonly indexers?: Store.Indexers<A>
  readonly owns?: ReadonlyArray<OwnedKind>
  readonly watches?: ReadonlyArray<MappedKind<A>>
  readonly reconcile: (object: A, context: ReconcileContext<A>) => Effect.Effect<WorkQueue.Action, E, R>
  /** Default 1. */
  readonly concurrency?: number
  readonly backoff?: WorkQueue.WorkQueueOptions<E, R>["backoff"]
  readonly isTerminal?: (error: E) => boolean
  readonly gracefulShutdown?: Duration.DurationInput
  /** Reconcile every object this often even without changes (default 10 hours; `false` disables). */
  readonly resyncPeriod?: Duration.DurationInput | false
}

export interface Controller<A extends KubeObject> {
  readonly primaries: Store.Store<A>
  readonly store: (resource: ResourceType) => Store.Store<KubeObject>
  readonly queue: WorkQueue.WorkQueue
  /** Completes once every cache has synced. */
  readonly ready: Effect.Effect<void>
  readonly isReady: Effect.Effect<boolean>
}

const rid = (resource: ResourceType) => `${resource.group}/${resource.plural}`

/** The primary key an owned object points at with its controller ownerReference, if it is of `owner`'s kind. */
export const ownerKey = (owner: ResourceType, object: KubeObject): ObjectKey | undefined => {
  const ref = object.metadata.ownerReferences?.find((r) => r.controller === true)
  if (ref === undefined || ref.kind !== owner.kind) return undefined
  const group = ref.apiVersion.includes("/") ? ref.apiVersion.slice(0, ref.apiVersion.indexOf("/")) : ""
  if (group !== owner.group) return undefined
  return objectKey(owner.namespaced ? object.metadata.namespace : undefined, ref.name)
}

export const make = <A extends KubeObject, E, R>(
  options: ControllerOptions<A, E, R>
): Effect.Effect<Controller<A>, never, KubeClient | Scope.Scope | R> =>
  Effect.gen(function* () {
    const primary = yield* Store.make<A>(options.indexers)
    const stores = new Map<string, Store.StoreWriter<KubeObject>>()
    for (const kind of options.owns ?? []) {
      stores.set(rid(kind.resource), yield* Store.make<KubeObject>({ owner: Store.indexers.ownerUid }))
    }
    for (const kind of options.watches ?? []) {
      const existing = stores.get(rid(kind.resource))
      if (existing === undefined) stores.set(rid(kind.resource), yield* Store.make<KubeObject>(kind.indexers ?? {}))
    }
    const storeOf = (resource: ResourceType): Store.Store<KubeObject> => {
      const writer = stores.get(rid(resource))
      if (writer === undefined) throw new Error(`${options.name}: ${resource.plural} is neither owned nor watched`)
      return writer.store
    }
    const allReady = Effect.all([primary.store.ready, ...[...stores.values()].map((w) => w.store.ready)], {
      discard: true
    })
    const isReady = Effect.map(
      Effect.all([primary.store.isReady, ...[...stores.values()].map((w) => w.store.isReady)]),
      (flags) => flags.every(Boolean)
    )

    const queue = yield* WorkQueue.make<E, R>({
      name: options.name,
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.isTerminal === undefined ? {} : { isTerminal: options.isTerminal }),
      ...(options.gracefulShutdown === undefined ? {} : { gracefulShutdown: options.gracefulShutdown }),
      run: (key, attempt) =>
        Effect.gen(function* () {
          yield* allReady
          const object = primary.store.unsafeGet(key)
          // Gone since it was scheduled: nothing to do (its deletion already dropped the key).
          if (object === undefined) return WorkQueue.Action.awaitChange
          return yield* options.reconcile(object, {
            key,
            attempt,
            primaries: primary.store,
            store: storeOf,
            owned: (resource) =>
              object.metadata.uid === undefined
                ? Effect.succeed([])
                : storeOf(resource).byIndex("owner", object.metadata.uid)
          })
        }).pipe(Effect.annotateLogs({ controller: options.name, key }))
    })

    // The primary kind: changes trigger their key; deletions drop it; a relist re-triggers all
    // keys and drops the keys that vanished meanwhile.
    let beforeRelist: ReadonlyArray<ObjectKey> = []
    yield* Watcher.watch(options.resource, options.watcher).pipe(
      Stream.tap((event) =>
        event._tag === "InitStart"
          ? Effect.sync(() => {
              beforeRelist = primary.store.unsafeList().map(keyOf)
            })
          : Effect.void
      ),
      Store.reflect(primary),
      Stream.runForEach((event) => {
        switch (event._tag) {
          case "Apply":
            return queue.enqueue(keyOf(event.object))
          case "Delete":
            return queue.forget(keyOf(event.object))
          case "InitDone":
            return Effect.gen(function* () {
              for (const key of beforeRelist) if (primary.store.unsafeGet(key) === undefined) yield* queue.forget(key)
              for (const object of primary.store.unsafeList()) yield* queue.enqueue(keyOf(object))
            })
          default:
            return Effect.void
        }
      }),
      Effect.forkScoped
    )

    const objectOf = (event: Watcher.WatcherEvent<KubeObject>) =>
      event._tag === "Apply" || event._tag === "Delete" || event._tag === "InitApply" ? event.object : undefined

    for (const kind of options.owns ?? []) {
      yield* Watcher.watch(kind.resource, kind.watcher).pipe(
        Store.reflect(stores.get(rid(kind.resource))!),
        Stream.runForEach((event) => {
          const object = objectOf(event)
          const key = object === undefined ? undefined : ownerKey(options.resource, object)
          return key === undefined ? Effect.void : queue.enqueue(key)
        }),
        Effect.forkScoped
      )
    }
    for (const kind of options.watches ?? []) {
      yield* Watcher.watch(kind.resource, kind.watcher).pipe(
        Store.reflect(stores.get(rid(kind.resource))!),
        Stream.runForEach((event) => {
          const object = objectOf(event)
          if (object === undefined) return Effect.void
          return Effect.forEach(kind.map(object, primary.store), (key) => queue.enqueue(key), { discard: true })
        }),
        Effect.forkScoped
      )
    }

    if (options.resyncPeriod !== false) {
      const period = Duration.decode(options.resyncPeriod ?? "10 hours")
      yield* Effect.gen(function* () {
        yield* Effect.sleep(period)
        for (const object of yield* primary.store.list) yield* queue.enqueue(keyOf(object))
      }).pipe(Effect.forever, Effect.forkScoped)
    }

    return {
      primaries: primary.store,
      store: storeOf,
      queue,
      ready: allReady,
      isReady
    }
  })

/** Runs a controller until interrupted. */
export const run = <A extends KubeObject, E, R>(
  options: ControllerOptions<A, E, R>
): Effect.Effect<never, never, KubeClient | R> => Effect.scoped(Effect.zipRight(make(options), Effect.never))

/**
 * A `map` for `watches`: the primaries whose index `index` holds `value(object)`, e.g. the instances
 * whose "secret" index (namespace/name of the Secrets they reference) contains a changed Secret.
 */
export const mapByIndex =
  <A extends KubeObject>(index: string, value: (object: KubeObject) => string | undefined) =>
  (object: KubeObject, primaries: Store.Store<A>): ReadonlyArray<ObjectKey> => {
    const v = value(object)
    return v === undefined ? [] : primaries.unsafeByIndex(index, v).map(keyOf)
  }
