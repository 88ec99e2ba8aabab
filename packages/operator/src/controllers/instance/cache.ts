/**
 * What the operator observes, kept in Stores fed by list-then-watch streams (one set per watched namespace, or one
 * for all namespaces):
 *
 * - ConvexInstances, indexed by the Secrets and ConfigMaps they reference;
 * - every child kind, Secrets and ConfigMaps included, only objects labelled
 *   `app.kubernetes.io/managed-by=convex-operator` (the label selector keeps other objects off the wire and out of
 *   memory), indexed by `namespace/instance` (and backup Jobs by the instance they back up);
 * - the Secrets and ConfigMaps instances reference, each watched by name (references.ts), so a Secret no instance
 *   names is never read.
 *
 * Every object is trimmed as it arrives (`Store.trim`: no managedFields, no last-applied annotation).
 *
 * Each change is mapped to the instances it concerns and handed to `trigger`; so is each difference a relist of a
 * child kind brings (after 410 Gone the list is the only news of what changed while its watch was down, and the
 * instance's own watch may have resumed without a relist). Gateway API kinds and the Prometheus Operator's
 * PodMonitors are watched only once their CRDs answer (re-checked periodically), so a cluster without them works.
 *
 * @module
 */
import { decodeConvexInstance, managedBy, type ProxyPolicyKind } from "@convex-operator/core"
import { backupLabels, instanceReferences } from "@convex-operator/core/internal"
import { KubeClient, type KubeObject, type ObjectKey, Resource, Store, Watcher } from "@convex-operator/k8s"
import { type Duration, Effect, Either, Option, type Scope, Stream } from "effect"
import {
  ConvexInstances,
  childResources,
  Gateways,
  isGatewayApiKind,
  isNginxPolicyKind,
  isOptionalKind,
  isPrometheusOperatorKind,
  PodMonitors
} from "../../shell/resources.js"
import { isHeldByDatabase } from "./database-claims.js"
import { makeReferenceWatches } from "./references.js"

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

/**
 * Index value of a backup's Job: `<namespace>/<instance>` of the instance it backs up (such Jobs belong to their
 * ConvexBackup, not to the instance, so they are not in the `instance` index; the upgrade/backup interlock reads them).
 */
const backupsIndex = (object: KubeObject): ReadonlyArray<string> => {
  const labels = object.metadata.labels
  const instance = labels?.[backupLabels.instance]
  return object.kind === "Job" &&
    labels?.["app.kubernetes.io/managed-by"] === managedBy &&
    labels["app.kubernetes.io/component"] === "backup" &&
    instance !== undefined
    ? [Resource.key(object.metadata.namespace, instance)]
    : []
}

export interface Cache {
  /** The namespace watched, or undefined for all. */
  readonly namespace: string | undefined
  readonly instances: Store.Store<KubeObject>
  /** The Store of a child kind (for Secrets and ConfigMaps, reads by key and lists include referenced ones). */
  readonly store: (kind: string) => Store.Store<KubeObject>
  /** Keeps an object read directly (a referenced Secret first seen by a GET) until its watch has listed it. */
  readonly remember: (object: KubeObject) => Effect.Effect<void>
  /** Whether Gateway API kinds are served by the cluster (their watches run). */
  readonly gatewayApi: () => boolean
  /** Whether the Prometheus Operator's PodMonitors are served by the cluster (their watch runs). */
  readonly podMonitors: () => boolean
  /** The NGINX Gateway Fabric policy kinds the cluster serves (their watches run). */
  readonly proxyPolicies: () => ReadonlyArray<ProxyPolicyKind>
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
  /** How often to look for Gateway API (and the Prometheus Operator) while it is missing (default 30 s). */
  readonly gatewayApiRecheck?: Duration.DurationInput
  /** A watch silent (not even a bookmark) for this long is dropped and resumed (default: the Watcher's 300 s). */
  readonly watchIdleTimeout?: Duration.DurationInput
}

/** Whether the cluster serves `resource` (a list answers; NotFound means its CRD is not installed). */
const served = (resource: Resource.Resource<KubeObject>, what: string, namespace: string | undefined) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    return yield* kube.list(resource, { limit: 1, ...(namespace === undefined ? {} : { namespace }) }).pipe(
      Effect.as(true),
      Effect.catchTag("NotFound", () => Effect.succeed(false)),
      Effect.catchAll((error) =>
        Effect.logWarning(`checking for ${what}: ${error._tag}: ${error.message}`).pipe(Effect.as(false))
      )
    )
  })

/** Whether the cluster serves Gateway API v1 (a list of Gateways answers). */
export const gatewayApiInstalled = (namespace: string | undefined) => served(Gateways, "Gateway API", namespace)

/** Whether the cluster serves the Prometheus Operator's PodMonitors (a list answers). */
export const podMonitorsInstalled = (namespace: string | undefined) =>
  served(PodMonitors, "the Prometheus Operator", namespace)

export const makeCache = (options: CacheOptions): Effect.Effect<Cache, never, KubeClient | Scope.Scope> =>
  Effect.gen(function* () {
    const scope = {
      transform: Store.trim,
      ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
      ...(options.watchIdleTimeout === undefined ? {} : { idleTimeout: options.watchIdleTimeout })
    }
    const instances = yield* Store.make<KubeObject>({ references: referenceIndex })
    const writers = new Map<string, Store.StoreWriter<KubeObject>>()
    for (const resource of childResources) {
      writers.set(resource.kind, yield* Store.make<KubeObject>({ instance: instanceIndex, backups: backupsIndex }))
    }
    const writerOf = (kind: string) => {
      const writer = writers.get(kind)
      if (writer === undefined) throw new Error(`convex-operator: no store for ${kind}`)
      return writer
    }
    let gatewayApi = false
    let podMonitors = false
    const proxyPolicies = new Set<ProxyPolicyKind>()
    const started = new Set<string>()

    // Instances held because another keeps their database: any change of an instance or a referenced object may
    // release them (the holder deleted, renamed its database, or its URL moved), so each such change wakes them.
    const wakeHeld = Effect.suspend(() =>
      Effect.forEach(
        instances.store.unsafeList().filter(isHeldByDatabase),
        (object) => options.trigger(Resource.keyOf(object)),
        { discard: true }
      )
    )
    const referencedBy = (object: KubeObject): ReadonlyArray<ObjectKey> =>
      instances.store
        .unsafeByIndex("references", `${object.kind}:${object.metadata.namespace ?? ""}/${object.metadata.name ?? ""}`)
        .map(Resource.keyOf)
    const references = yield* makeReferenceWatches({
      resources: new Map(
        childResources.filter((r) => r.kind === "Secret" || r.kind === "ConfigMap").map((r) => [r.kind, r])
      ),
      watcher: {
        transform: Store.trim,
        ...(scope.idleTimeout === undefined ? {} : { idleTimeout: scope.idleTimeout })
      },
      changed: (reference) =>
        Effect.forEach(instances.store.unsafeByIndex("references", reference), (instance) =>
          options.trigger(Resource.keyOf(instance))
        ).pipe(Effect.zipRight(wakeHeld))
    })

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
      // Watch by name what the instances reference, before their reconciles run.
      Stream.tap((event) => {
        switch (event._tag) {
          case "Apply":
            return references.track(Resource.keyOf(event.object), referenceIndex(event.object))
          case "Delete":
            return references.track(Resource.keyOf(event.object), [])
          case "InitDone":
            return Effect.gen(function* () {
              for (const key of beforeRelist) {
                if (instances.store.unsafeGet(key) === undefined) yield* references.track(key, [])
              }
              for (const object of instances.store.unsafeList()) {
                yield* references.track(Resource.keyOf(object), referenceIndex(object))
              }
            })
          default:
            return Effect.void
        }
      }),
      Stream.runForEach((event) => {
        switch (event._tag) {
          case "Apply":
            return Effect.zipRight(options.trigger(Resource.keyOf(event.object)), wakeHeld)
          case "Delete":
            return Effect.zipRight(options.forget(Resource.keyOf(event.object)), wakeHeld)
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

    // A backup's Job wakes its instance too: an upgrade waiting for the backup starts when the Job has finished.
    const affected = (object: KubeObject): ReadonlyArray<ObjectKey> => [
      ...instanceIndex(object),
      ...backupsIndex(object),
      ...referencedBy(object)
    ]

    /** The instances concerned by the difference between two snapshots of a store (by resourceVersion). */
    const relistChanges = (before: ReadonlyMap<ObjectKey, KubeObject>, after: ReadonlyArray<KubeObject>) => {
      const keys = new Set<ObjectKey>()
      const seen = new Set<ObjectKey>()
      for (const object of after) {
        const key = Resource.keyOf(object)
        seen.add(key)
        if (before.get(key)?.metadata.resourceVersion !== object.metadata.resourceVersion) {
          for (const instance of affected(object)) keys.add(instance)
        }
      }
      for (const [key, object] of before) {
        if (!seen.has(key)) for (const instance of affected(object)) keys.add(instance)
      }
      return [...keys]
    }

    const watchChildren = (resource: Resource.Resource<KubeObject>) => {
      const writer = writerOf(resource.kind)
      started.add(resource.kind)
      // What the store held when a relist began, to tell which objects the relist changed.
      let beforeRelist: ReadonlyMap<ObjectKey, KubeObject> | undefined
      return Watcher.watch(resource, { ...scope, labelSelector: managedSelector }).pipe(
        Stream.tap((event) =>
          event._tag === "InitStart"
            ? Effect.map(writer.store.isReady, (listed) => {
                beforeRelist = listed
                  ? new Map(writer.store.unsafeList().map((object) => [Resource.keyOf(object), object]))
                  : undefined
              })
            : Effect.void
        ),
        Store.reflect(writer),
        Stream.runForEach((event) => {
          switch (event._tag) {
            case "Apply":
            case "Delete":
              return Effect.forEach(affected(event.object), options.trigger, { discard: true })
            case "InitDone": {
              // A relist (after 410 Gone) is the only news of what changed while the watch was down: wake the
              // instances of every child it added, changed or removed. The first list needs none of this (no
              // reconcile runs before every store has listed).
              const before = beforeRelist
              beforeRelist = undefined
              if (before === undefined) return Effect.void
              const changed = relistChanges(before, writer.store.unsafeList())
              if (changed.length === 0) return Effect.void
              return Effect.logDebug(`relisted ${resource.plural}: waking ${changed.join(", ")}`).pipe(
                Effect.zipRight(Effect.forEach(changed, options.trigger, { discard: true }))
              )
            }
            default:
              return Effect.void
          }
        }),
        Effect.forkScoped
      )
    }

    for (const resource of childResources) {
      if (!isOptionalKind(resource.kind)) yield* watchChildren(resource)
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

    // The Prometheus Operator: the same, for PodMonitors (an instance with metrics enabled renders one only then).
    const startPodMonitors = Effect.gen(function* () {
      podMonitors = true
      for (const resource of childResources) if (isPrometheusOperatorKind(resource.kind)) yield* watchChildren(resource)
      yield* Effect.logInfo("the Prometheus Operator is installed: watching PodMonitors")
      for (const object of instances.store.unsafeList()) yield* options.trigger(Resource.keyOf(object))
    })
    if (yield* podMonitorsInstalled(options.namespace)) {
      yield* startPodMonitors
    } else {
      yield* Effect.gen(function* () {
        for (;;) {
          yield* Effect.sleep(options.gatewayApiRecheck ?? "30 seconds")
          if (yield* podMonitorsInstalled(options.namespace)) return yield* startPodMonitors
        }
      }).pipe(Effect.forkScoped)
    }

    // NGINX Gateway Fabric's policies: the same, each kind on its own (ProxySettingsPolicy came later than
    // ClientSettingsPolicy), so that instances render the limits as those policies once they are served.
    for (const resource of childResources) {
      const kind = resource.kind
      if (!isNginxPolicyKind(kind)) continue
      const start = Effect.gen(function* () {
        proxyPolicies.add(kind)
        yield* watchChildren(resource)
        yield* Effect.logInfo(`NGINX Gateway Fabric's ${kind} is installed: watching ${resource.plural}`)
        for (const object of instances.store.unsafeList()) yield* options.trigger(Resource.keyOf(object))
      })
      const installed = served(resource, `NGINX Gateway Fabric's ${kind}`, options.namespace)
      if (yield* installed) {
        yield* start
      } else {
        yield* Effect.gen(function* () {
          for (;;) {
            yield* Effect.sleep(options.gatewayApiRecheck ?? "30 seconds")
            if (yield* installed) return yield* start
          }
        }).pipe(Effect.forkScoped)
      }
    }

    /** The managed Store of `kind`, with the referenced objects of that kind added to reads by key and lists. */
    const withReferences = (kind: string): Store.Store<KubeObject> => {
      const managed = writerOf(kind).store
      const unsafeGet = (key: ObjectKey) => managed.unsafeGet(key) ?? references.get(kind, key)
      const unsafeList = () => {
        const own = managed.unsafeList()
        const ownKeys = new Set(own.map(Resource.keyOf))
        return [...own, ...references.list(kind).filter((object) => !ownKeys.has(Resource.keyOf(object)))]
      }
      return {
        ...managed,
        get: (key) => Effect.sync(() => Option.fromNullable(unsafeGet(key))),
        list: Effect.sync(unsafeList),
        unsafeGet,
        unsafeList
      }
    }

    const startedStores = () => [instances.store, ...[...started].map((kind) => writerOf(kind).store)]
    return {
      namespace: options.namespace,
      instances: instances.store,
      store: (kind) => (kind === "Secret" || kind === "ConfigMap" ? withReferences(kind) : writerOf(kind).store),
      remember: (object) =>
        object.kind === "Secret" || object.kind === "ConfigMap"
          ? Effect.sync(() => references.remember(object))
          : writerOf(object.kind).apply({ _tag: "Apply", object }),
      gatewayApi: () => gatewayApi,
      podMonitors: () => podMonitors,
      proxyPolicies: () => [...proxyPolicies].sort(),
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
