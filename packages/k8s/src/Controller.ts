/**
 * `Controller`: watches a primary kind, the kinds it owns and any kinds mapped onto it, keeps them in
 * Stores, and runs `reconcile` per primary object through a {@link Supervisor} (a fiber per primary):
 *
 * - triggers: the primary object changed; an owned object (by its controller ownerReference) changed;
 *   a watched object changed and `map` names primaries (e.g. a Secret → the instances that use it);
 *   a periodic resync (default 10 h) as a safety net;
 *   a kind both owned and mapped is watched once and triggers both ways;
 * - a relist of an owned or mapped kind (after 410 Gone, the only news of what changed while its watch was
 *   down) triggers the primaries of every object it added, changed (by resourceVersion) or removed; a relist of
 *   the primary kind triggers every primary and drops the ones that vanished;
 * - `namespaces`: one watch per namespace and kind (none given: all namespaces), each kind in one Store, one queue;
 * - `filter` on an owned or mapped kind: changes of objects it refuses trigger nothing (they are still stored);
 * - `optional` on an owned or mapped kind (a CRD that may be missing, e.g. Gateway API): its watch starts only
 *   once `served` says yes (checked at start, then every `recheck`, default 30 s); when it starts later, every
 *   primary is triggered once its first list is in; until then `isServed` says no and readiness does not wait for it;
 * - `sources`: extra trigger sources started with the controller, given `trigger` and the primary Store (e.g. watches
 *   by name of the Secrets the primaries reference);
 * - `onPrimary` runs for each change of a primary after the Store took it in and before it triggers anything (a
 *   relist reports every object it holds as an Apply and every vanished one as a Delete); `alsoTrigger` names more
 *   primaries to wake on a watched change of a primary (e.g. objects waiting on another one);
 * - reconciles start once every served cache has synced, and see the primary from the Store (latest state);
 * - a deleted primary's running reconcile is interrupted and its wake-ups dropped;
 * - triggers of keys whose primary is not in the Store are dropped (its fiber would never end);
 * - closing the scope drains the queue gracefully (see Supervisor).
 */
import { Duration, Effect, type Scope } from "effect"
import * as KindCache from "./internal/kind-cache.js"
import { KubeClient } from "./KubeClient.js"
import {
  type KubeObject,
  keyOf,
  type ObjectKey,
  key as objectKey,
  type Resource,
  type ResourceType
} from "./Resource.js"
import * as Store from "./Store.js"
import * as Supervisor from "./Supervisor.js"
import type * as Watcher from "./Watcher.js"
import * as WorkQueue from "./WorkQueue.js"

/** A kind that may not be served by the cluster (its CRD not installed): watched only once it is. */
export interface OptionalKind {
  /** Whether the cluster serves the kind now (default: {@link probeServed} in the first watched namespace). */
  readonly served?: Effect.Effect<boolean, never, KubeClient>
  /** How often to ask again while it is not served (default 30 s). */
  readonly recheck?: Duration.DurationInput
}

/** What owned and mapped kinds share. */
export interface WatchedKind {
  readonly resource: Resource<KubeObject>
  /** Watch options (label selector, `transform` such as `Store.trim`, idle timeout); the namespace comes from `namespaces`. */
  readonly watcher?: Watcher.WatcherOptions
  /** Extra indexes on this kind's Store. */
  readonly indexers?: Store.Indexers<KubeObject>
  /** Changes of objects for which this is false trigger nothing (the objects are still kept in the Store). */
  readonly filter?: (object: KubeObject) => boolean
  readonly optional?: OptionalKind
}

/** A kind the primary owns: a change triggers the primary its controller ownerReference names. */
export interface OwnedKind extends WatchedKind {}

export interface MappedKind<A extends KubeObject> extends WatchedKind {
  /** The primaries to reconcile when `object` changes; `primaries` is the primary Store (see {@link mapByIndex}). */
  readonly map: (object: KubeObject, primaries: Store.Store<A>) => ReadonlyArray<ObjectKey>
}

/** A change of a primary object, as `onPrimary` and `alsoTrigger` see it. */
export interface PrimaryChange<A extends KubeObject> {
  readonly _tag: "Apply" | "Delete"
  readonly object: A
}

export interface SourceContext<A extends KubeObject> {
  /** Schedules a reconcile of the primary `key`. */
  readonly trigger: (key: ObjectKey) => Effect.Effect<void>
  readonly primaries: Store.Store<A>
}

/** An extra trigger source: started in the controller's scope before its watches; may fork what it needs. */
export type Source<A extends KubeObject> = (
  context: SourceContext<A>
) => Effect.Effect<void, never, Scope.Scope | KubeClient>

export interface ReconcileContext<A extends KubeObject> {
  readonly key: ObjectKey
  /** Failures of this key since its last success. */
  readonly attempt: number
  readonly primaries: Store.Store<A>
  /** The Store of an owned or mapped kind. */
  readonly store: (resource: ResourceType) => Store.Store<KubeObject>
  /** Objects of an owned kind whose ownerReferences name the primary object. */
  readonly owned: (resource: ResourceType) => Effect.Effect<ReadonlyArray<KubeObject>>
  /** Whether the watch of a kind runs: false for an optional kind the cluster does not serve (yet). */
  readonly isServed: (resource: ResourceType) => boolean
  /**
   * The scope of this primary's fiber (see {@link Supervisor}): work forked into it (a saga spanning reconciles)
   * lives until the primary is deleted or the controller stops.
   */
  readonly scope: Scope.Scope
}

export interface ControllerOptions<A extends KubeObject, E, R> {
  /** Metric label and log prefix. */
  readonly name: string
  readonly resource: Resource<A>
  readonly watcher?: Watcher.WatcherOptions
  readonly indexers?: Store.Indexers<A>
  /** Namespaces to watch, each with its own watches; empty or absent: all namespaces (or `watcher.namespace`). */
  readonly namespaces?: ReadonlyArray<string>
  readonly owns?: ReadonlyArray<OwnedKind>
  readonly watches?: ReadonlyArray<MappedKind<A>>
  /** Extra trigger sources (see {@link Source}). */
  readonly sources?: ReadonlyArray<Source<A>>
  /** Runs for each change of a primary, after its Store took it in and before anything is triggered. */
  readonly onPrimary?: (change: PrimaryChange<A>) => Effect.Effect<void>
  /** More primaries to trigger when a watch reports a change of a primary (a relist triggers every primary anyway). */
  readonly alsoTrigger?: (change: PrimaryChange<A>, primaries: Store.Store<A>) => ReadonlyArray<ObjectKey>
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
  readonly isServed: (resource: ResourceType) => boolean
  readonly queue: Supervisor.Supervisor
  /** Completes once every served cache has synced. */
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

/**
 * Whether the cluster serves `resource`: a list (one item) answers. NotFound (its CRD is not installed) is no;
 * any other failure is logged and taken as no, to be asked again.
 */
export const probeServed = (
  resource: ResourceType,
  namespace?: string | undefined
): Effect.Effect<boolean, never, KubeClient> =>
  Effect.flatMap(KubeClient, (kube) =>
    kube.list(resource, { limit: 1, ...(namespace === undefined ? {} : { namespace }) }).pipe(
      Effect.as(true),
      Effect.catchTag("NotFound", () => Effect.succeed(false)),
      Effect.catchAll((error) =>
        Effect.logWarning(`checking whether ${resource.plural} are served: ${error._tag}: ${error.message}`).pipe(
          Effect.as(false)
        )
      )
    )
  )

interface Kind {
  readonly spec: WatchedKind
  readonly cache: KindCache.KindCache<KubeObject>
  /** The primaries a change of `object` concerns. */
  readonly map: (object: KubeObject) => ReadonlyArray<ObjectKey>
  served: boolean
}

export const make = <A extends KubeObject, E, R>(
  options: ControllerOptions<A, E, R>
): Effect.Effect<Controller<A>, never, KubeClient | Scope.Scope | R> =>
  Effect.gen(function* () {
    const namespaces = options.namespaces ?? []
    const primary = yield* KindCache.make(options.resource, {
      namespaces,
      watcher: options.watcher,
      indexers: options.indexers
    })
    const primaries = primary.store
    // A kind both owned and mapped is watched once (with its first declaration's options) and triggers both ways.
    const declared = new Map<
      string,
      { spec: WatchedKind; indexers: Store.Indexers<KubeObject>; maps: Array<Kind["map"]> }
    >()
    const declare = (spec: WatchedKind, indexers: Store.Indexers<KubeObject>, map: Kind["map"]) => {
      const seen = declared.get(rid(spec.resource))
      if (seen === undefined) declared.set(rid(spec.resource), { spec, indexers, maps: [map] })
      else
        declared.set(rid(spec.resource), {
          ...seen,
          indexers: { ...seen.indexers, ...indexers },
          maps: [...seen.maps, map]
        })
    }
    for (const kind of options.owns ?? []) {
      declare(kind, { owner: Store.indexers.ownerUid, ...kind.indexers }, (object) => {
        const key = ownerKey(options.resource, object)
        return key === undefined ? [] : [key]
      })
    }
    for (const kind of options.watches ?? []) declare(kind, kind.indexers ?? {}, (o) => kind.map(o, primaries))
    const kinds = new Map<string, Kind>()
    for (const [id, { spec, indexers, maps }] of declared) {
      const cache = yield* KindCache.make(spec.resource, { namespaces, watcher: spec.watcher, indexers })
      const map = maps.length === 1 ? maps[0]! : (object: KubeObject) => maps.flatMap((m) => m(object))
      kinds.set(id, { spec, cache, map, served: spec.optional === undefined })
    }

    const kindOf = (resource: ResourceType): Kind => {
      const kind = kinds.get(rid(resource))
      if (kind === undefined) throw new Error(`${options.name}: ${resource.plural} is neither owned nor watched`)
      return kind
    }
    const storeOf = (resource: ResourceType): Store.Store<KubeObject> => kindOf(resource).cache.store
    const isServed = (resource: ResourceType): boolean =>
      rid(resource) === rid(options.resource) || kindOf(resource).served
    const servedStores = () => [primaries, ...[...kinds.values()].filter((k) => k.served).map((k) => k.cache.store)]
    // Waits for every served Store; a kind that became served meanwhile is waited for too.
    const allReady: Effect.Effect<void> = Effect.suspend(() => {
      const stores = servedStores()
      return Effect.all(
        stores.map((store) => store.ready),
        { discard: true }
      ).pipe(Effect.zipRight(Effect.suspend(() => (servedStores().length === stores.length ? Effect.void : allReady))))
    })
    const isReady = Effect.suspend(() =>
      Effect.map(Effect.all(servedStores().map((store) => store.isReady)), (flags) => flags.every(Boolean))
    )

    const queue = yield* Supervisor.make<E, R>({
      name: options.name,
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.isTerminal === undefined ? {} : { isTerminal: options.isTerminal }),
      ...(options.gracefulShutdown === undefined ? {} : { gracefulShutdown: options.gracefulShutdown }),
      run: (key, attempt, scope) =>
        Effect.gen(function* () {
          yield* allReady
          const object = primaries.unsafeGet(key)
          // Gone since it was scheduled: nothing to do (its deletion already dropped the key).
          if (object === undefined) return WorkQueue.Action.awaitChange
          return yield* options.reconcile(object, {
            key,
            attempt,
            primaries,
            store: storeOf,
            owned: (resource) =>
              object.metadata.uid === undefined
                ? Effect.succeed([])
                : storeOf(resource).byIndex("owner", object.metadata.uid),
            isServed,
            scope
          })
        }).pipe(Effect.annotateLogs({ controller: options.name, key }))
    })
    // Only keys of primaries in the Store: a key's fiber lives until its object's deletion forgets it, so a trigger
    // for a deleted primary (its owned objects going away after it) would otherwise start a fiber nothing ends.
    const trigger = (key: ObjectKey) => (primaries.unsafeGet(key) === undefined ? Effect.void : queue.enqueue(key))
    const triggerAll = (keys: Iterable<ObjectKey>) => Effect.forEach(keys, trigger, { discard: true })
    const triggerEveryPrimary = Effect.suspend(() => triggerAll(primaries.unsafeList().map(keyOf)))

    for (const source of options.sources ?? []) yield* source({ trigger, primaries })

    // Optional kinds: asked once now (so that the first reconciles see them), in parallel.
    const optional = [...kinds.values()].filter((kind) => kind.spec.optional !== undefined)
    const servedNow = (kind: Kind) =>
      kind.spec.optional?.served ??
      probeServed(kind.spec.resource, KindCache.scopesOf(kind.spec.resource, namespaces, kind.spec.watcher)[0])
    const answers = yield* Effect.forEach(optional, servedNow, { concurrency: "unbounded" })
    optional.forEach((kind, i) => {
      kind.served = answers[i]!
    })

    // The primary kind: changes trigger their key; deletions drop it; a relist re-triggers every key and drops the
    // keys that vanished meanwhile.
    const onPrimary = options.onPrimary ?? (() => Effect.void)
    const alsoTrigger = (change: PrimaryChange<A>) =>
      options.alsoTrigger === undefined ? Effect.void : triggerAll(options.alsoTrigger(change, primaries))
    yield* primary.start((change) =>
      Effect.gen(function* () {
        switch (change._tag) {
          case "Apply":
            yield* onPrimary(change)
            yield* trigger(keyOf(change.object))
            return yield* alsoTrigger(change)
          case "Delete":
            yield* onPrimary(change)
            yield* queue.forget(keyOf(change.object))
            return yield* alsoTrigger(change)
          case "Listed":
            for (const object of change.removed) yield* onPrimary({ _tag: "Delete", object })
            for (const object of change.objects) yield* onPrimary({ _tag: "Apply", object })
            for (const object of change.removed) yield* queue.forget(keyOf(object))
            return yield* triggerAll(change.objects.map(keyOf))
        }
      })
    )

    // Owned and mapped kinds: a change triggers what `map` names; a relist after the first list triggers what its
    // differences map to (no reconcile runs before every first list is in, so a first list needs none of this).
    const affected = (kind: Kind, objects: ReadonlyArray<KubeObject>) => {
      const keys = new Set<ObjectKey>()
      for (const object of objects) {
        if (kind.spec.filter === undefined || kind.spec.filter(object))
          for (const key of kind.map(object)) keys.add(key)
      }
      return keys
    }
    const startKind = (kind: Kind) =>
      kind.cache.start((change) => {
        if (change._tag !== "Listed") return triggerAll(affected(kind, [change.object]))
        if (change.first) return Effect.void
        const keys = affected(kind, [...change.changed, ...change.removed])
        if (keys.size === 0) return Effect.void
        return Effect.logDebug(`relisted ${kind.spec.resource.plural}: waking ${[...keys].join(", ")}`).pipe(
          Effect.zipRight(triggerAll(keys))
        )
      })
    for (const kind of kinds.values()) if (kind.served) yield* startKind(kind)

    // Optional kinds not served yet: ask again every `recheck`; once served and listed, wake every primary.
    for (const kind of optional) {
      if (kind.served) continue
      yield* Effect.gen(function* () {
        for (;;) {
          yield* Effect.sleep(kind.spec.optional?.recheck ?? "30 seconds")
          if (yield* servedNow(kind)) break
        }
        yield* startKind(kind)
        yield* kind.cache.store.ready
        kind.served = true
        yield* Effect.logInfo(`${options.name}: ${kind.spec.resource.plural} are served now: watching them`)
        yield* triggerEveryPrimary
      }).pipe(Effect.forkScoped)
    }

    if (options.resyncPeriod !== false) {
      const period = Duration.decode(options.resyncPeriod ?? "10 hours")
      yield* Effect.gen(function* () {
        yield* Effect.sleep(period)
        yield* triggerEveryPrimary
      }).pipe(Effect.forever, Effect.forkScoped)
    }

    return { primaries, store: storeOf, isServed, queue, ready: allReady, isReady }
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
