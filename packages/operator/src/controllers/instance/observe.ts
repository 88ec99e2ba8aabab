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
import { describeError, longestWait, RetryableError } from "../../shell/errors.js"
import { ConvexInstances, resourceOf } from "../../shell/resources.js"
import { databaseHolderOf } from "./database-claims.js"
import { InstanceCache } from "./instance-cache.js"

/** What an instance that is not being deleted is, decoded once. */
export type Observation =
  | { readonly _tag: "Paused"; readonly object: KubeObject; readonly instance: ConvexInstance }
  | { readonly _tag: "Invalid"; readonly object: KubeObject; readonly error: InvalidConvexInstance }
  | { readonly _tag: "Active"; readonly object: KubeObject; readonly instance: ConvexInstance }

/** Decodes `object` (an instance that is not being deleted) and tells whether it is paused. */
export const observeInstance = (object: KubeObject): Observation => {
  const decoded = decodeConvexInstance(object)
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
  /** The backend StatefulSet as observed (forced rollback reads it). */
  readonly children: ReadonlyArray<KubeObject>
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

/** Everything around an active instance. */
export const observeSurroundings = (
  key: ObjectKey,
  object: KubeObject,
  instance: ConvexInstance
): Effect.Effect<Surroundings, RetryableError, InstanceCache | KubeClient> =>
  Effect.gen(function* () {
    const cache = yield* InstanceCache
    const name = object.metadata.name ?? ""
    const namespace = object.metadata.namespace ?? "default"
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
    const references = yield* observeReferences(instance, namespace)
    const restoreSource = observeRestoreSource(cache, instance, namespace)
    return {
      observed: {
        objects: [...children, ...references, ...restoreSource],
        // Another, older instance may keep the database this one claims (see database-claims.ts).
        databaseInUse: databaseHolderOf(object, cache.instances.unsafeList(), (ns, secretName) =>
          cache.store("Secret").unsafeGet(Resource.key(ns, secretName))
        ),
        backups: observeBackups(cache, key)
      },
      refused,
      existing: new Set(children.map((child) => `${child.kind}/${child.metadata.name ?? ""}`)),
      children
    }
  })
