/**
 * The Secrets and ConfigMaps instances reference (database URL, S3 credentials, TLS, extra configuration), watched
 * by name: one list and watch with the field selector `metadata.name=<name>` in the instance's namespace per
 * referenced object, started when the first instance names it and stopped when the last one stops naming it. The
 * operator thus reads no Secret that no instance names, and holds only the ones that are named. The price is two
 * requests per referenced name when it is first named (list, watch) and one every 30 minutes while it stays named.
 *
 * Until a name's watch has listed, an object the reconciler read directly (`remember`) stands in for it; from then
 * on the watch alone says what the object is. Each change (a new resourceVersion, an appearance, a deletion) is
 * reported through `changed` with the reference, `<Kind>:<namespace>/<name>`.
 *
 * @module
 */
import type { KubeClient, KubeObject, ObjectKey, Resource } from "@convex-operator/k8s"
import { Watcher } from "@convex-operator/k8s"
import { Effect, FiberMap, type Scope, Stream } from "effect"

export interface ReferenceWatches {
  /** Sets what the instance `instance` references (`<Kind>:<namespace>/<name>` each); `[]` drops its references. */
  readonly track: (instance: ObjectKey, references: ReadonlyArray<string>) => Effect.Effect<void>
  /** The referenced object of `kind` at `namespace/name`, when it exists and has been seen. */
  readonly get: (kind: string, key: ObjectKey) => KubeObject | undefined
  /** Every referenced object of `kind` seen so far. */
  readonly list: (kind: string) => ReadonlyArray<KubeObject>
  /** An object read directly: kept until its name's watch has listed; ignored when no instance references it. */
  readonly remember: (object: KubeObject) => void
  /** The references being watched (for tests and metrics). */
  readonly watched: () => ReadonlyArray<string>
}

export interface ReferenceWatchOptions {
  /** The Secret and ConfigMap resources, by kind. */
  readonly resources: ReadonlyMap<string, Resource.Resource<KubeObject>>
  /** Watcher settings shared with the other watches (idle timeout, transform); namespace and selectors are set here. */
  readonly watcher: Omit<Watcher.WatcherOptions, "namespace" | "labelSelector" | "fieldSelector">
  /** Called after each change of a referenced object. */
  readonly changed: (reference: string) => Effect.Effect<void>
}

/** `<Kind>:<namespace>/<name>`, the form of the instance Store's `references` index. */
export const referenceOf = (kind: string, namespace: string, name: string) => `${kind}:${namespace}/${name}`

const parse = (reference: string) => {
  const colon = reference.indexOf(":")
  const slash = reference.indexOf("/", colon)
  return {
    kind: reference.slice(0, colon),
    namespace: reference.slice(colon + 1, slash),
    name: reference.slice(slash + 1)
  }
}

const versionOf = (object: KubeObject | undefined) => object?.metadata.resourceVersion

export const makeReferenceWatches = (
  options: ReferenceWatchOptions
): Effect.Effect<ReferenceWatches, never, KubeClient | Scope.Scope> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<KubeClient>()
    const fibers = yield* FiberMap.make<string>()
    /** Reference → the instances naming it. */
    const holders = new Map<string, Set<ObjectKey>>()
    const byInstance = new Map<ObjectKey, ReadonlyArray<string>>()
    const objects = new Map<string, KubeObject>()
    const listed = new Set<string>()

    /** Stores the new state of `reference` and reports it when it differs from the old one. */
    const update = (reference: string, object: KubeObject | undefined) =>
      Effect.suspend(() => {
        const before = objects.get(reference)
        if (object === undefined) objects.delete(reference)
        else objects.set(reference, object)
        return versionOf(before) === versionOf(object) && (before === undefined) === (object === undefined)
          ? Effect.void
          : options.changed(reference)
      })

    const watchOne = (reference: string) => {
      const { kind, namespace, name } = parse(reference)
      const resource = options.resources.get(kind)
      if (resource === undefined) return Effect.void
      // What the current (re)list found: at most one object, the one of this name.
      let found: KubeObject | undefined
      return Watcher.watch(resource, {
        ...options.watcher,
        namespace,
        fieldSelector: `metadata.name=${name}`,
        bufferSize: 16,
        // One watch per name: ending each after 30 min (the apiserver's own default is 30 to 60) rather than the
        // Watcher's 290 s keeps their renewals few. The apiserver's bookmarks (about one a minute) keep them inside
        // the idle timeout.
        timeoutSeconds: 1800
      }).pipe(
        Stream.runForEach((event) => {
          switch (event._tag) {
            case "InitStart":
              found = undefined
              return Effect.void
            case "InitApply":
              found = event.object
              return Effect.void
            case "InitDone":
              listed.add(reference)
              return update(reference, found)
            case "Apply":
              return update(reference, event.object)
            case "Delete":
              return update(reference, undefined)
          }
        }),
        Effect.provide(context)
      )
    }

    const hold = (reference: string, instance: ObjectKey) =>
      Effect.suspend(() => {
        let set = holders.get(reference)
        if (set === undefined) {
          set = new Set()
          holders.set(reference, set)
        }
        set.add(instance)
        return set.size === 1 ? Effect.asVoid(FiberMap.run(fibers, reference, watchOne(reference))) : Effect.void
      })

    const release = (reference: string, instance: ObjectKey) =>
      Effect.suspend(() => {
        const set = holders.get(reference)
        set?.delete(instance)
        if (set === undefined || set.size > 0) return Effect.void
        holders.delete(reference)
        return FiberMap.remove(fibers, reference).pipe(
          Effect.zipRight(
            Effect.sync(() => {
              objects.delete(reference)
              listed.delete(reference)
            })
          )
        )
      })

    return {
      track: (instance, references) =>
        Effect.suspend(() => {
          const before = byInstance.get(instance) ?? []
          if (references.length === 0) byInstance.delete(instance)
          else byInstance.set(instance, references)
          const added = references.filter((reference) => !before.includes(reference))
          const removed = before.filter((reference) => !references.includes(reference))
          return Effect.zipRight(
            Effect.forEach(added, (reference) => hold(reference, instance), { discard: true }),
            Effect.forEach(removed, (reference) => release(reference, instance), { discard: true })
          )
        }),
      get: (kind, key) => {
        const slash = key.indexOf("/")
        return objects.get(referenceOf(kind, key.slice(0, slash), key.slice(slash + 1)))
      },
      list: (kind) =>
        [...objects.entries()].filter(([reference]) => reference.startsWith(`${kind}:`)).map(([, o]) => o),
      remember: (object) => {
        const reference = referenceOf(object.kind, object.metadata.namespace ?? "", object.metadata.name ?? "")
        if (!holders.has(reference) || listed.has(reference)) return
        objects.set(reference, options.watcher.transform === undefined ? object : options.watcher.transform(object))
      },
      watched: () => [...holders.keys()]
    }
  })
