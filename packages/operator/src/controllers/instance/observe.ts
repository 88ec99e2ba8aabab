/**
 * Observe, the first step of a reconcile: what the instance cache knows of one instance, read once and decoded once.
 *
 * - the instance itself (not being deleted: the finalizer's cleanup takes those): paused, not decodable (its spec
 *   passed admission but not the Schema), or active;
 * - for an active instance: its managed children, with what the last reconciles wrote in place of what the cache
 *   has not seen yet (own-writes.ts; those another controller owns are set apart as refused), the
 *   Secrets and ConfigMaps it references (read directly once when the cache has not seen them yet), the ConvexBackup
 *   a restore reads, its backups' Jobs (for the upgrade/backup interlock), and the older instance that keeps the
 *   database it claims.
 *
 * @module
 */
import {
  type ConvexInstance,
  childKinds,
  decodeConvexInstance,
  type InvalidConvexInstance,
  type Observed,
  reconciliationPaused
} from "@convex-operator/core"
import { backupLabels, instanceReferences, jobOutcome } from "@convex-operator/core/internal"
import { KubeClient, type KubeObject, type ObjectKey, Resource, retryAfterOf } from "@convex-operator/k8s"
import { Effect, Either, Option } from "effect"
import { boundedMemo } from "../../shell/bounded-memo.js"
import { describeError, longestWait, RetryableError } from "../../shell/errors.js"
import { ConvexInstances, resourceOf } from "../../shell/resources.js"
import { databaseHolderOf } from "./database-claims.js"
import { InstanceCache } from "./instance-cache.js"

/** What an instance that is not being deleted is, decoded once. */
export type Observation =
  | { readonly _tag: "Paused"; readonly object: KubeObject; readonly instance: ConvexInstance }
  | { readonly _tag: "Invalid"; readonly object: KubeObject; readonly error: InvalidConvexInstance }
  | { readonly _tag: "Active"; readonly object: KubeObject; readonly instance: ConvexInstance }

/**
 * Decoded instances by uid and resourceVersion (one version of one object, so the same decoding). Most reconciles
 * of an instance are woken by its children's events, not by a change of its own, and decoding it with the Schema was
 * the largest part of observing (`bench/results/n100-profile.txt`). A few hundred are kept, the instances reconciled
 * lately, forgotten all at once when full: not a second copy of every instance.
 */
const decodedOfVersion = boundedMemo<ReturnType<typeof decodeConvexInstance>>(256)

const decodeVersion = (object: KubeObject) => {
  const { uid, resourceVersion } = object.metadata
  return uid === undefined || resourceVersion === undefined
    ? decodeConvexInstance(object)
    : decodedOfVersion(`${uid}/${resourceVersion}`, () => decodeConvexInstance(object))
}

/** Decodes `object` (an instance that is not being deleted) and tells whether it is paused. */
export const observeInstance = (object: KubeObject): Observation => {
  const decoded = decodeVersion(object)
  if (Either.isLeft(decoded)) return { _tag: "Invalid", object, error: decoded.left }
  return reconciliationPaused(object.metadata)
    ? { _tag: "Paused", object, instance: decoded.right }
    : { _tag: "Active", object, instance: decoded.right }
}

/** Everything decide needs of an active instance, and what act needs besides. */
export interface Surroundings {
  /** For `decide` (without the entropy, drawn just before deciding). */
  readonly observed: Omit<Observed, "entropy">
  /** `Kind/name` of children another controller owns → that owner (`Kind name`): never written. */
  readonly refused: ReadonlyMap<string, string>
  /** `Kind/name` of the children that exist. */
  readonly existing: ReadonlySet<string>
  /** The managed children as observed (forced rollback reads the backend StatefulSet). */
  readonly children: ReadonlyArray<KubeObject>
  /** What the instance references and the ConvexBackup a restore reads (the objects beside the children). */
  readonly around: ReadonlyArray<KubeObject>
}

/** The controller owner of a child, when it is not a ConvexInstance of this name (then the child is refused). */
const foreignOwner = (child: KubeObject, instanceName: string) => {
  const owner = Resource.controllerOf(child)
  if (owner === undefined) return undefined
  return owner.kind === ConvexInstances.kind &&
    owner.apiVersion.startsWith(`${ConvexInstances.group}/`) &&
    owner.name === instanceName
    ? undefined
    : owner
}

/** The Secrets and ConfigMaps `instance` references, from the cache or (first time) read directly. */
const observeReferences = (instance: ConvexInstance, namespace: string) =>
  Effect.gen(function* () {
    const cache = yield* InstanceCache
    const kube = yield* KubeClient
    const references = instanceReferences(instance)
    const wanted = [
      ...references.secrets.map((name) => ({ kind: "Secret", name })),
      ...references.configMaps.map((name) => ({ kind: "ConfigMap", name }))
    ]
    const found: Array<KubeObject> = []
    for (const { kind, name } of wanted) {
      const cached = cache.store(kind).unsafeGet(Resource.key(namespace, name))
      if (cached !== undefined) {
        found.push(cached)
        continue
      }
      const read = yield* kube.get(resourceOf(kind), name, { namespace }).pipe(
        Effect.map(Option.some),
        Effect.catchTag("NotFound", () => Effect.succeed(Option.none<KubeObject>())),
        Effect.mapError(
          (error) =>
            new RetryableError({
              message: `reading ${kind} ${name}: ${describeError(error)}`,
              ...longestWait([retryAfterOf(error)])
            })
        )
      )
      if (Option.isSome(read)) {
        yield* cache.remember(read.value)
        found.push(read.value)
      }
    }
    return found
  })

/** The ConvexBackup a restore reads, from the cache (none once it succeeded, or for another source). */
const observeRestoreSource = (cache: InstanceCache["Type"], instance: ConvexInstance, namespace: string) => {
  const backup = instance.spec.restore?.from.backup
  if (backup === undefined || instance.status?.restore?.phase === "Succeeded") return []
  const object = cache.store("ConvexBackup").unsafeGet(Resource.key(namespace, backup))
  return object === undefined ? [] : [object]
}

/** The backups of the instance, as their Jobs tell (the cache indexes backup Jobs by instance: `backupsOf`). */
const observeBackups = (cache: InstanceCache["Type"], key: ObjectKey): NonNullable<Observed["backups"]> =>
  cache
    .store("Job")
    .unsafeByIndex("backups", key)
    .map((job) => ({
      name: job.metadata.labels?.[backupLabels.backup] ?? job.metadata.name ?? "",
      phase: jobOutcome(job) === "Running" ? ("Running" as const) : undefined,
      createdAt: job.metadata.creationTimestamp ?? ""
    }))

/** The managed children of `key` as the cache and the last reconciles' writes tell, those another controller owns
 *  set apart. */
const observeChildren = (cache: InstanceCache["Type"], key: ObjectKey, name: string) => {
  const refused = new Map<string, string>()
  const children: Array<KubeObject> = []
  // What the last reconciles wrote stands in for what the cache has not seen yet (own-writes.ts).
  const cached = cache.ownWrites.children(
    key,
    childKinds.flatMap(({ kind }) => cache.store(kind).unsafeByIndex("instance", key))
  )
  for (const child of cached) {
    const owner = foreignOwner(child, name)
    if (owner === undefined) children.push(child)
    else refused.set(`${child.kind}/${child.metadata.name ?? ""}`, `${owner.kind} ${owner.name}`)
  }
  return { children, refused }
}

/** `surroundings` with `children` and `refused` in place of the children observed. */
const withChildren = (
  surroundings: Omit<Surroundings, "children" | "refused" | "existing" | "observed"> & {
    readonly observed: Omit<Surroundings["observed"], "objects">
  },
  children: ReadonlyArray<KubeObject>,
  refused: ReadonlyMap<string, string>
): Surroundings => ({
  ...surroundings,
  observed: { ...surroundings.observed, objects: [...children, ...surroundings.around] },
  refused,
  existing: new Set(children.map((child) => `${child.kind}/${child.metadata.name ?? ""}`)),
  children
})

/** Everything around an active instance. */
export const observeSurroundings = (
  key: ObjectKey,
  object: KubeObject,
  instance: ConvexInstance
): Effect.Effect<Surroundings, RetryableError, InstanceCache | KubeClient> =>
  Effect.gen(function* () {
    const cache = yield* InstanceCache
    const namespace = object.metadata.namespace ?? "default"
    const { children, refused } = observeChildren(cache, key, object.metadata.name ?? "")
    const references = yield* observeReferences(instance, namespace)
    const restoreSource = observeRestoreSource(cache, instance, namespace)
    return withChildren(
      {
        observed: {
          // Another, older instance may keep the database this one claims (see database-claims.ts).
          databaseInUse: databaseHolderOf(
            object,
            (database) => cache.instances.unsafeByIndex("database", database),
            (ns, secretName) => cache.store("Secret").unsafeGet(Resource.key(ns, secretName))
          ),
          backups: observeBackups(cache, key)
        },
        around: [...references, ...restoreSource]
      },
      children,
      refused
    )
  })

/**
 * `surroundings` once the children are as a reconcile's act left them: the cache overlaid with the writes just made
 * (own-writes.ts). The references, backups and database holder are those observed before act: act writes none.
 */
export const reobserveChildren = (
  key: ObjectKey,
  object: KubeObject,
  surroundings: Surroundings
): Effect.Effect<Surroundings, never, InstanceCache> =>
  Effect.map(InstanceCache, (cache) => {
    const { children, refused } = observeChildren(cache, key, object.metadata.name ?? "")
    return withChildren(surroundings, children, refused)
  })
