/**
 * The cache of one kind inside a Controller: one Store and one watch per namespace scope (or one for all
 * namespaces), seen as one Store, and the changes each watch brings, relist differences included.
 */
import { Effect, type Scope, Stream } from "effect"
import type { KubeClient } from "../KubeClient.js"
import { type KubeObject, keyOf, type ObjectKey, type Resource, type ResourceType } from "../Resource.js"
import * as Store from "../Store.js"
import * as Watcher from "../Watcher.js"

/** What one watch reports, once its Store has taken the event in. */
export type KindChange<A> =
  | { readonly _tag: "Apply" | "Delete"; readonly object: A }
  /**
   * A (re)list is in. `objects`: everything this watch's scope now holds; `changed`: the objects the list added or
   * changed (by resourceVersion); `removed`: the objects it no longer holds (their last known state); `first`: the
   * scope's first list (then `changed` is everything and `removed` is empty).
   */
  | {
      readonly _tag: "Listed"
      readonly first: boolean
      readonly objects: ReadonlyArray<A>
      readonly changed: ReadonlyArray<A>
      readonly removed: ReadonlyArray<A>
    }

export interface KindCache<A> {
  readonly store: Store.Store<A>
  /** Starts the watches in the current scope; `onChange` runs after the Store has applied each change. */
  readonly start: (
    onChange: (change: KindChange<A>) => Effect.Effect<void>
  ) => Effect.Effect<void, never, KubeClient | Scope.Scope>
}

/** The namespaces to watch `resource` in: each of `namespaces`, or the watcher's own (undefined: all). */
export const scopesOf = (
  resource: ResourceType,
  namespaces: ReadonlyArray<string>,
  watcher: Watcher.WatcherOptions | undefined
): ReadonlyArray<string | undefined> =>
  !resource.namespaced ? [undefined] : namespaces.length > 0 ? namespaces : [watcher?.namespace]

/** The objects of `after` that `before` lacks or holds at another resourceVersion, and those `after` lost. */
const differences = <A extends KubeObject>(before: ReadonlyMap<ObjectKey, A>, after: ReadonlyArray<A>) => {
  const changed: Array<A> = []
  const seen = new Set<ObjectKey>()
  for (const object of after) {
    const key = keyOf(object)
    seen.add(key)
    if (before.get(key)?.metadata.resourceVersion !== object.metadata.resourceVersion) changed.push(object)
  }
  const removed = [...before].filter(([key]) => !seen.has(key)).map(([, object]) => object)
  return { changed, removed }
}

export const make = <A extends KubeObject>(
  resource: Resource<A>,
  options: {
    readonly namespaces: ReadonlyArray<string>
    readonly watcher?: Watcher.WatcherOptions | undefined
    readonly indexers?: Store.Indexers<A> | undefined
  }
): Effect.Effect<KindCache<A>> =>
  Effect.gen(function* () {
    const scopes = scopesOf(resource, options.namespaces, options.watcher)
    const writers: Array<Store.StoreWriter<A>> = []
    for (const _ of scopes) writers.push(yield* Store.make<A>(options.indexers))
    const watchOne = (
      namespace: string | undefined,
      writer: Store.StoreWriter<A>,
      onChange: (change: KindChange<A>) => Effect.Effect<void>
    ) => {
      // What the Store held when a relist began; undefined before the first list is in.
      let before: ReadonlyMap<ObjectKey, A> | undefined
      let listed = false
      const { namespace: _, ...watcher } = options.watcher ?? {}
      return Watcher.watch(resource, namespace === undefined ? watcher : { ...watcher, namespace }).pipe(
        Stream.tap((event) =>
          event._tag === "InitStart"
            ? Effect.sync(() => {
                before = listed
                  ? new Map(writer.store.unsafeList().map((object) => [keyOf(object), object]))
                  : undefined
              })
            : Effect.void
        ),
        Store.reflect(writer),
        Stream.runForEach((event) => {
          switch (event._tag) {
            case "Apply":
            case "Delete":
              return onChange(event)
            case "InitDone": {
              const first = !listed
              listed = true
              const objects = writer.store.unsafeList()
              const { changed, removed } = differences(before ?? new Map(), objects)
              before = undefined
              return onChange({ _tag: "Listed", first, objects, changed, removed })
            }
            default:
              return Effect.void
          }
        }),
        Effect.forkScoped
      )
    }
    return {
      store: Store.union(writers.map((writer) => writer.store)),
      start: (onChange) =>
        Effect.forEach(scopes, (namespace, i) => watchOne(namespace, writers[i]!, onChange), { discard: true })
    }
  })
