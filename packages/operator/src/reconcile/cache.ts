/**
 * What the operator observes, kept in Stores fed by list-then-watch streams (one set per watched namespace, or one
 * for all namespaces):
 *
 * - ConvexInstances, indexed by the Secrets and ConfigMaps they reference;
 * - every child kind, only objects labelled `app.kubernetes.io/managed-by=convex-operator` (the label selector keeps
 *   other objects out of memory), indexed by `namespace/instance`;
 * - Secrets and ConfigMaps: the watch sees all of them, but the Store keeps only those an instance references (and
 *   the operator's own), so the data of unrelated Secrets is never cached.
 *
 * Each change is mapped to the instances it concerns and handed to `trigger`. Gateway API kinds are watched only
 * once their CRDs answer (re-checked periodically), so a cluster without Gateway API works.
 *
 * @module
 */
import { decodeConvexInstance, instanceReferences, managedBy } from "@convex-operator/core"
import {
  KubeClient,
  type KubeObject,
  type ObjectKey,
  Resource,
  Store,
  Watcher,
  type WatcherEvent
} from "@convex-operator/k8s"
import { type Duration, Effect, Either, Option, type Scope, Stream } from "effect"
import { ConvexInstances, childResources, Gateways, isGatewayApiKind } from "./resources.js"

const managedSelector = `app.kubernetes.io/managed-by=${managedBy}`
const instanceLabel = "app.kubernetes.io/instance"

/** Index values of the references of an instance: `Secret:<ns>/<name>`, `ConfigMap:<ns>/<name>`. */
const referenceIndex = (object: KubeObject): ReadonlyArray<string> => {
  const decoded = decodeConvexInstance(object)
  if (Either.isLeft(decoded)) return []
  const namespace = object.metadata.namespace ?? "default"
  const references = instanceReferences(decoded.right)
  return [
    ...references.secrets.map((name) => `Secret:${namespace}/${name}`),
    ...references.configMaps.map((name) => `ConfigMap:${namespace}/${name}`)
  ]
}

/** Index value of a managed child: `<namespace>/<instance>`. */
const instanceIndex = (object: KubeObject): ReadonlyArray<string> => {
  const labels = object.metadata.labels
  const instance = labels?.[instanceLabel]
  return labels?.["app.kubernetes.io/managed-by"] === managedBy && instance !== undefined
    ? [Resource.key(object.metadata.namespace, instance)]
    : []
}

const isManaged = (object: KubeObject) => object.metadata.labels?.["app.kubernetes.io/managed-by"] === managedBy

export interface Cache {
  /** The namespace watched, or undefined for all. */
  readonly namespace: string | undefined
  readonly instances: Store.Store<KubeObject>
  /** The Store of a child kind (Secrets and ConfigMaps include referenced ones). */
  readonly store: (kind: string) => Store.Store<KubeObject>
  /** Puts an object read directly (a referenced Secret first seen by a GET) into its Store. */
  readonly remember: (object: KubeObject) => Effect.Effect<void>
  /** Whether Gateway API kinds are served by the cluster (their watches run). */
  readonly gatewayApi: () => boolean
  /** Completes once every started watch has listed. */
  readonly ready: Effect.Effect<void>
  readonly isReady: Effect.Effect<boolean>
}

export interface CacheOptions {
  readonly namespace: string | undefined
  /** Schedule a reconcile of an instance key. */
  readonly trigger: (key: ObjectKey) => Effect.Effect<void>
  /** Drop an instance key (it was deleted). */
  readonly forget: (key: ObjectKey) => Effect.Effect<void>
  /** How often to look for Gateway API while it is missing (default 30 s). */
  readonly gatewayApiRecheck?: Duration.DurationInput
  /** A watch silent (not even a bookmark) for this long is dropped and resumed (default: the Watcher's 300 s). */
  readonly watchIdleTimeout?: Duration.DurationInput
}

/** Whether the cluster serves Gateway API v1 (a list of Gateways answers). */
export const gatewayApiInstalled = (namespace: string | undefined) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    return yield* kube.list(Gateways, { limit: 1, ...(namespace === undefined ? {} : { namespace }) }).pipe(
      Effect.as(true),
      Effect.catchTag("NotFound", () => Effect.succeed(false)),
      Effect.catchAll((error) =>
        Effect.logWarning(`checking for Gateway API: ${error._tag}: ${error.message}`).pipe(Effect.as(false))
      )
    )
  })

export const makeCache = (options: CacheOptions): Effect.Effect<Cache, never, KubeClient | Scope.Scope> =>
  Effect.gen(function* () {
    const scope = {
      ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
      ...(options.watchIdleTimeout === undefined ? {} : { idleTimeout: options.watchIdleTimeout })
    }
    const instances = yield* Store.make<KubeObject>({ references: referenceIndex })
    const writers = new Map<string, Store.StoreWriter<KubeObject>>()
    for (const resource of childResources) {
      writers.set(resource.kind, yield* Store.make<KubeObject>({ instance: instanceIndex }))
    }
    const writerOf = (kind: string) => {
      const writer = writers.get(kind)
      if (writer === undefined) throw new Error(`convex-operator: no store for ${kind}`)
      return writer
    }
    let gatewayApi = false
    const started = new Set<string>()

    // Instances: changes trigger their key; deletions drop it; a relist re-triggers every key.
    let beforeRelist: ReadonlyArray<ObjectKey> = []
    yield* Watcher.watch(ConvexInstances, scope).pipe(
      Stream.tap((event) =>
        event._tag === "InitStart"
          ? Effect.sync(() => {
              beforeRelist = instances.store.unsafeList().map(Resource.keyOf)
            })
          : Effect.void
      ),
      Stream.tap(instances.apply),
      Stream.runForEach((event) => {
        switch (event._tag) {
          case "Apply":
            return options.trigger(Resource.keyOf(event.object))
          case "Delete":
            return options.forget(Resource.keyOf(event.object))
          case "InitDone":
            return Effect.gen(function* () {
              for (const key of beforeRelist) {
                if (instances.store.unsafeGet(key) === undefined) yield* options.forget(key)
              }
              for (const object of instances.store.unsafeList()) yield* options.trigger(Resource.keyOf(object))
            })
          default:
            return Effect.void
        }
      }),
      Effect.forkScoped
    )

    const referencedBy = (object: KubeObject): ReadonlyArray<ObjectKey> =>
      instances.store
        .unsafeByIndex("references", `${object.kind}:${object.metadata.namespace ?? ""}/${object.metadata.name ?? ""}`)
        .map(Resource.keyOf)
    const keep = (object: KubeObject) => isManaged(object) || referencedBy(object).length > 0
    const affected = (object: KubeObject): ReadonlyArray<ObjectKey> => [
      ...instanceIndex(object),
      ...referencedBy(object)
    ]

    const watchChildren = (resource: Resource.Resource<KubeObject>) => {
      const writer = writerOf(resource.kind)
      const referenceKind = resource.kind === "Secret" || resource.kind === "ConfigMap"
      // Secrets and ConfigMaps: everything is watched (references carry no label), only what matters is kept.
      const filter = (event: WatcherEvent<KubeObject>): WatcherEvent<KubeObject> | undefined => {
        if (!referenceKind) return event
        if ((event._tag === "InitApply" || event._tag === "Apply") && !keep(event.object)) {
          return event._tag === "Apply" ? { _tag: "Delete", object: event.object } : undefined
        }
        return event
      }
      started.add(resource.kind)
      return Watcher.watch(resource, referenceKind ? scope : { ...scope, labelSelector: managedSelector }).pipe(
        Stream.filterMap((event) => Option.fromNullable(filter(event))),
        Store.reflect(writer),
        Stream.runForEach((event) =>
          event._tag === "Apply" || event._tag === "Delete"
            ? Effect.forEach(affected(event.object), options.trigger, { discard: true })
            : Effect.void
        ),
        Effect.forkScoped
      )
    }

    for (const resource of childResources) {
      if (!isGatewayApiKind(resource.kind)) yield* watchChildren(resource)
    }

    // Gateway API: watch once it is there; look again while it is not.
    const startGatewayApi = Effect.gen(function* () {
      gatewayApi = true
      for (const resource of childResources) if (isGatewayApiKind(resource.kind)) yield* watchChildren(resource)
      yield* Effect.logInfo("Gateway API is installed: watching Gateways and HTTPRoutes")
      for (const object of instances.store.unsafeList()) yield* options.trigger(Resource.keyOf(object))
    })
    if (yield* gatewayApiInstalled(options.namespace)) {
      yield* startGatewayApi
    } else {
      yield* Effect.logInfo("Gateway API is not installed: instances in gateway mode report GatewayReady=False")
      yield* Effect.gen(function* () {
        for (;;) {
          yield* Effect.sleep(options.gatewayApiRecheck ?? "30 seconds")
          if (yield* gatewayApiInstalled(options.namespace)) return yield* startGatewayApi
        }
      }).pipe(Effect.forkScoped)
    }

    const startedStores = () => [instances.store, ...[...started].map((kind) => writerOf(kind).store)]
    return {
      namespace: options.namespace,
      instances: instances.store,
      store: (kind) => writerOf(kind).store,
      remember: (object) => writerOf(object.kind).apply({ _tag: "Apply", object }),
      gatewayApi: () => gatewayApi,
      ready: Effect.suspend(() =>
        Effect.all(
          startedStores().map((store) => store.ready),
          { discard: true }
        )
      ),
      isReady: Effect.suspend(() =>
        Effect.map(Effect.all(startedStores().map((store) => store.isReady)), (flags) => flags.every(Boolean))
      )
    }
  })
