/**
 * The ConvexInstance controller's watches, on `@convex-operator/k8s`'s `Controller` (one set per watched namespace,
 * or one for all namespaces, feeding one Store per kind and one queue):
 *
 * - ConvexInstances, indexed by the Secrets and ConfigMaps they reference;
 * - every child kind, Secrets and ConfigMaps included, only objects labelled
 *   `app.kubernetes.io/managed-by=convex-operator` (the label selector keeps other objects off the wire and out of
 *   memory), indexed by `namespace/instance` (and backup Jobs by the instance they back up), each change mapped to its
 *   instance; Gateway API kinds, the Prometheus Operator's PodMonitors and NGINX Gateway Fabric's policies are
 *   optional kinds, watched once their CRDs answer (re-checked periodically), so a cluster without them works;
 * - the Secrets and ConfigMaps instances reference, each watched by name (references.ts, a trigger source of the
 *   controller), so a Secret no instance names is never read;
 * - every ConvexBackup (they hold no secret): a restore waits for the one it names and is woken when it completes.
 *
 * Every object is trimmed as it arrives (`Store.trim`: no managedFields, no last-applied annotation). A relist of a
 * child kind wakes the instances of what it changed (the Controller does that). Instances held because another keeps
 * their database (database-claims.ts) are woken by every change of an instance or a referenced object.
 *
 * What a reconcile reads of all this is the `Cache` (the InstanceCache service, instance-cache.ts).
 *
 * @module
 */
import { decodeConvexInstance, managedBy, type ProxyPolicyKind } from "@convex-operator/core"
import { backupLabels, instanceReferences } from "@convex-operator/core/internal"
import {
  type Action,
  Controller,
  type KubeClient,
  type KubeObject,
  type ObjectKey,
  Resource,
  Store,
  type WorkQueue
} from "@convex-operator/k8s"
import { Deferred, type Duration, Effect, Either, Option, type Scope } from "effect"
import { boundedMemo } from "../../shell/bounded-memo.js"
import {
  ConvexInstances,
  childResources,
  Gateways,
  isNginxPolicyKind,
  isOptionalKind,
  PodMonitors,
  resourceOf
} from "../../shell/resources.js"
import { databaseIndex, heldIndex, heldValue } from "./database-claims.js"
import { makeOwnWrites, type OwnWrites } from "./own-writes.js"
import { makeReferenceWatches, type ReferenceWatches } from "./references.js"
import { type InstanceSagas, makeSagaRegistry, type SagaRegistry } from "./sagas/registry.js"

const managedSelector = `app.kubernetes.io/managed-by=${managedBy}`
const instanceLabel = "app.kubernetes.io/instance"

/**
 * References by instance, generation and restore phase. They follow from the spec, which a status write leaves as it
 * is (the generation counts the spec's changes), and from whether a restore has succeeded (its source's Secrets are
 * references until then), so an instance is decoded for them once per generation and phase rather than on each of its
 * events (twice each: this index, and `onPrimary`).
 */
const referencesOfGeneration = boundedMemo<ReadonlyArray<string>>(8192)

/** Index values of the references of an instance: `Secret:<ns>/<name>`, `ConfigMap:<ns>/<name>`. */
const referenceIndex = (object: KubeObject): ReadonlyArray<string> => {
  const compute = () => {
    const decoded = decodeConvexInstance(object)
    if (Either.isLeft(decoded)) return []
    const namespace = object.metadata.namespace ?? "default"
    const references = instanceReferences(decoded.right)
    return [
      ...references.secrets.map((name) => `Secret:${namespace}/${name}`),
      ...references.configMaps.map((name) => `ConfigMap:${namespace}/${name}`)
    ]
  }
  const { uid, generation } = object.metadata
  const restore = (object.status as { restore?: { phase?: unknown } } | undefined)?.restore?.phase
  return uid === undefined || generation === undefined
    ? compute()
    : referencesOfGeneration(`${uid}/${generation}/${restore === "Succeeded"}`, compute)
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

/** Index value of an instance restoring from a ConvexBackup: `<namespace>/<backup>` (read raw, without decoding). */
const restoreIndex = (object: KubeObject): ReadonlyArray<string> => {
  const from = (object.spec as { restore?: { from?: { backup?: unknown } } } | undefined)?.restore?.from
  return typeof from?.backup === "string" ? [Resource.key(object.metadata.namespace, from.backup)] : []
}

/** What a reconcile reads: the Stores of the instance controller, with the referenced objects. */
export interface Cache {
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
  /** The instance versions the operator's own status writes superseded (own-writes.ts). */
  readonly ownWrites: OwnWrites
  /** The instances' sagas (sagas/registry.ts): what reconciles feed them and take from them. */
  readonly sagas: InstanceSagas
  /** Completes once every started watch has listed. */
  readonly ready: Effect.Effect<void>
  readonly isReady: Effect.Effect<boolean>
}

export interface InstanceControllerOptions<E, R> {
  /** Namespaces to watch; empty: all namespaces. */
  readonly namespaces: ReadonlyArray<string>
  /** One reconcile of an instance, reading `cache`. */
  readonly reconcile: (key: ObjectKey, cache: Cache) => Effect.Effect<Action, E, R>
  /** Reconciles running at once (different instances; default 1). */
  readonly concurrency?: number
  readonly gracefulShutdown?: Duration.DurationInput
  /** How often to look again for an optional kind (Gateway API, PodMonitors, NGINX policies) while it is missing. */
  readonly optionalRecheck?: Duration.DurationInput
  /** A watch silent (not even a bookmark) for this long is dropped and resumed (default: the Watcher's 300 s). */
  readonly watchIdleTimeout?: Duration.DurationInput
}

export interface InstanceController {
  readonly controller: Controller.Controller<KubeObject>
  /** The instances' sagas. */
  readonly sagas: SagaRegistry
  /** The cache as reconciles see it. */
  readonly cache: Cache
}

/** What the cache view is made from: a Controller, or the context of one of its reconciles. */
interface Stores {
  readonly primaries: Store.Store<KubeObject>
  readonly store: (resource: Resource.ResourceType) => Store.Store<KubeObject>
  readonly isServed: (resource: Resource.ResourceType) => boolean
}

const cacheOf = (
  stores: Stores,
  references: ReferenceWatches,
  ownWrites: OwnWrites,
  sagas: InstanceSagas,
  ready: Effect.Effect<void>,
  isReady: Effect.Effect<boolean>
): Cache => {
  /** The managed Store of `kind`, with the referenced objects of that kind added to reads by key and lists. */
  const withReferences = (kind: string): Store.Store<KubeObject> => {
    const managed = stores.store(resourceOf(kind))
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
  return {
    instances: stores.primaries,
    store: (kind) =>
      kind === "Secret" || kind === "ConfigMap" ? withReferences(kind) : stores.store(resourceOf(kind)),
    remember: (object) => Effect.sync(() => references.remember(object)),
    gatewayApi: () => stores.isServed(Gateways),
    podMonitors: () => stores.isServed(PodMonitors),
    proxyPolicies: () =>
      childResources
        .filter((resource) => isNginxPolicyKind(resource.kind) && stores.isServed(resource))
        .map((resource) => resource.kind as ProxyPolicyKind)
        .sort(),
    ownWrites,
    sagas,
    ready,
    isReady
  }
}

/** Starts the ConvexInstance controller in the current scope. */
export const makeInstanceController = <E, R>(
  options: InstanceControllerOptions<E, R>
): Effect.Effect<InstanceController, never, KubeClient | Scope.Scope | R> =>
  Effect.gen(function* () {
    const idle = options.watchIdleTimeout === undefined ? {} : { idleTimeout: options.watchIdleTimeout }
    // The by-name watches of referenced objects start as a trigger source of the controller (before its watches);
    // the instance stream tells them what to watch.
    const referencesReady = yield* Deferred.make<ReferenceWatches>()
    const ownWrites = makeOwnWrites()
    // A saga wakes its instance through the controller's queue (made below, before any reconcile runs).
    let wake: (key: ObjectKey) => Effect.Effect<void> = () => Effect.void
    const sagas = yield* makeSagaRegistry((key) => Effect.suspend(() => wake(key)))
    const heldKeys = (primaries: Store.Store<KubeObject>) =>
      primaries.unsafeByIndex("heldByDatabase", heldValue).map(Resource.keyOf)
    const referenceSource: Controller.Source<KubeObject> = ({ trigger, primaries }) =>
      Effect.gen(function* () {
        const references = yield* makeReferenceWatches({
          resources: new Map(
            childResources.filter((r) => r.kind === "Secret" || r.kind === "ConfigMap").map((r) => [r.kind, r])
          ),
          watcher: { transform: Store.trim, ...idle },
          changed: (reference) =>
            Effect.forEach(
              [...primaries.unsafeByIndex("references", reference).map(Resource.keyOf), ...heldKeys(primaries)],
              trigger,
              { discard: true }
            )
        })
        yield* Deferred.succeed(referencesReady, references)
      })
    const controller = yield* Controller.make<KubeObject, E, R>({
      name: "convexinstance",
      resource: ConvexInstances,
      namespaces: options.namespaces,
      watcher: { transform: Store.trim, ...idle },
      // database and heldByDatabase: read on every change of an instance (database-claims.ts), so not a scan of all.
      indexers: {
        references: referenceIndex,
        restoreFrom: restoreIndex,
        database: databaseIndex,
        heldByDatabase: heldIndex
      },
      watches: childResources.map((resource) => ({
        resource,
        // Every ConvexBackup, not only the operator's own: a restore waits for the one it names.
        watcher: {
          transform: Store.trim,
          ...(resource.kind === "ConvexBackup" ? {} : { labelSelector: managedSelector }),
          ...idle
        },
        indexers: { instance: instanceIndex, backups: backupsIndex },
        // A backup's Job wakes its instance too: an upgrade waiting for the backup starts when the Job has finished;
        // so does a managed object another instance references.
        map: (object, primaries) => {
          // Called for every watch event of the kind once its Store took it in: what the operator noted of its own
          // write of this child is out of date now (own-writes.ts).
          for (const key of instanceIndex(object)) ownWrites.seen(key, object)
          return [
            ...instanceIndex(object),
            ...backupsIndex(object),
            ...primaries
              .unsafeByIndex(
                "references",
                `${object.kind}:${object.metadata.namespace ?? ""}/${object.metadata.name ?? ""}`
              )
              .map(Resource.keyOf),
            ...(object.kind === "ConvexBackup"
              ? primaries.unsafeByIndex("restoreFrom", Resource.keyOf(object)).map(Resource.keyOf)
              : [])
          ]
        },
        ...(isOptionalKind(resource.kind)
          ? { optional: options.optionalRecheck === undefined ? {} : { recheck: options.optionalRecheck } }
          : {})
      })),
      sources: [referenceSource],
      // Watch by name what the instances reference, before their reconciles run.
      onPrimary: (change) =>
        Effect.flatMap(Deferred.await(referencesReady), (references) => {
          const key = Resource.keyOf(change.object)
          if (change._tag === "Apply") return references.track(key, referenceIndex(change.object))
          ownWrites.forget(key)
          return Effect.zipRight(sagas.forget(key), references.track(key, []))
        }),
      // Any change of an instance may release the instances held for its database (database-claims.ts).
      alsoTrigger: (_, primaries) => heldKeys(primaries),
      reconcile: (_object, context) =>
        Effect.flatMap(Deferred.await(referencesReady), (references) =>
          options.reconcile(
            context.key,
            cacheOf(context, references, ownWrites, sagas.in(context.scope), Effect.void, Effect.succeed(true))
          )
        ),
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(options.gracefulShutdown === undefined ? {} : { gracefulShutdown: options.gracefulShutdown }),
      // Reconciles of unchanged instances cost nothing but CPU; the watches say what changed.
      resyncPeriod: false
    })
    wake = controller.queue.enqueue
    const references = yield* Deferred.await(referencesReady)
    return {
      controller,
      sagas,
      cache: cacheOf(controller, references, ownWrites, sagas.in(undefined), controller.ready, controller.isReady)
    }
  })

export interface CacheOptions {
  /** The namespace watched, or undefined for all. */
  readonly namespace: string | undefined
  /** Called for each instance the controller would reconcile (after its triggers are de-duplicated). */
  readonly trigger: (key: ObjectKey) => Effect.Effect<void>
  readonly gatewayApiRecheck?: Duration.DurationInput
  readonly watchIdleTimeout?: Duration.DurationInput
}

/**
 * The instance cache without reconciles, for tests that run `reconcile` themselves: the same controller, whose
 * reconcile only reports the key to `trigger`.
 */
export const makeCache = (options: CacheOptions): Effect.Effect<Cache, never, KubeClient | Scope.Scope> =>
  Effect.map(
    makeInstanceController<never, never>({
      namespaces: options.namespace === undefined ? [] : [options.namespace],
      concurrency: 4,
      reconcile: (key) => Effect.as(options.trigger(key), { _tag: "AwaitChange" } satisfies WorkQueue.Action),
      ...(options.gatewayApiRecheck === undefined ? {} : { optionalRecheck: options.gatewayApiRecheck }),
      ...(options.watchIdleTimeout === undefined ? {} : { watchIdleTimeout: options.watchIdleTimeout })
    }),
    (instance) => instance.cache
  )
