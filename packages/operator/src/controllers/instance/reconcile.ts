/**
 * The ConvexInstance reconciler: observe (from the Stores) → decide (core, pure) → act.
 *
 * - observe: the instance, its managed children, and the Secrets/ConfigMaps it references (read once directly when
 *   the Store has not seen them yet);
 * - decide: `decide` from `@convex-operator/core`;
 * - act: server-side apply (field manager `convex-operator`, force) of exactly what `decide` says differs (what pods
 *   read first, then what runs pods; within each wave up to `applyConcurrency` requests at once), deletion of what
 *   it says is obsolete, the deletion of a backend pod a reverted template left behind (`forced-rollback.ts`), the
 *   status through the status subresource only when it changed, its events.
 *
 * Children another controller owns are refused (reported on the instance), children of an earlier instance of the
 * same name are adopted (the apply replaces the owner reference). Conflicts and transient failures fail the
 * reconcile (retried with backoff); invalid writes are folded into the status and wait for a change. A write the
 * apiserver refuses (RBAC) is folded into the status too (reason `Forbidden`, naming the verb and resource, see
 * `forbidden.ts`), and the reconcile then fails so the work queue retries it with its backoff: a permission can be
 * granted again without any change the operator would see.
 *
 * @module
 */
import {
  type ConvexInstance,
  childKinds,
  childNames,
  decide,
  decodeConvexInstance,
  drawEntropy,
  type Observed,
  reconciliationPaused,
  type SecretGenerator,
  upgradeMayStart
} from "@convex-operator/core"
import {
  type ApplyFailure,
  backupLabels,
  instanceReferences,
  jobOutcome,
  transitionEvents,
  withApplyFailures
} from "@convex-operator/core/internal"
import {
  Action,
  type EventRecorder,
  isTransient,
  KubeClient,
  type KubeError,
  type KubeObject,
  type ObjectKey,
  Resource,
  TerminalError
} from "@convex-operator/k8s"
import { Clock, Effect, Either, Option } from "effect"
import { ConvexBackups } from "../../shell/backup-resources.js"
import { equalJson } from "../../shell/equal-json.js"
import { describeError, RetryableError } from "../../shell/errors.js"
import { recordEvents } from "../../shell/events.js"
import { fieldManager } from "../../shell/field-manager.js"
import { type Attempt, describeForbidden } from "../../shell/forbidden.js"
import { ConvexInstances, isGatewayApiKind, resourceOf } from "../../shell/resources.js"
import type { Cache } from "./cache.js"
import { databaseHolderOf } from "./database-claims.js"
import { finalize, finalizerName } from "./finalizer.js"
import { forceRollback } from "./forced-rollback.js"
import { holdPaused } from "./paused.js"

export interface ReconcilerSettings {
  /** The operator image (snapshot Jobs run it). */
  readonly operatorImage: string
  /** Requests one reconcile sends at once (default `defaultApplyConcurrency`). */
  readonly applyConcurrency?: number
}

const retryable = (error: KubeError) => isTransient(error) || error._tag === "Conflict"

/**
 * What became of one apply or deletion: done, a failure for the status, or a reason to retry the reconcile (a
 * refused request is both).
 */
interface Outcome {
  readonly failure?: ApplyFailure
  readonly retry?: string
}
const done: Outcome = {}

/** Requests one reconcile sends at once (applies of one wave, deletions) unless the settings say otherwise. */
export const defaultApplyConcurrency = 4

/** Kinds that run pods, which read the other children (Secrets, ConfigMaps, claims, the env Jobs' ServiceAccount). */
const podOwners: ReadonlySet<string> = new Set(["StatefulSet", "Deployment", "Job"])

/**
 * The applies of one reconcile in order: first every child a pod may read or need (configuration, Secrets, claims,
 * Services, RBAC, routes), then the kinds that run pods. Within a wave nothing depends on anything else, so its
 * requests may run concurrently; a pod created before its Secret, claim or ServiceAccount would wait or be refused
 * (a Job's controller then backs off for up to minutes).
 */
export const applyWaves = <A extends { readonly kind: string }>(
  children: ReadonlyArray<A>
): ReadonlyArray<ReadonlyArray<A>> =>
  [
    children.filter((child) => !podOwners.has(child.kind)),
    children.filter((child) => podOwners.has(child.kind))
  ].filter((wave) => wave.length > 0)

/**
 * The RBAC verb a refused server-side apply lacked, for an apiserver whose message does not say (1.34 names it): its
 * authorization filter checks `patch`, then the apply checks `create` when the object is absent.
 */
const applyVerbs = (observed: boolean) => (observed ? ["patch"] : ["create"])
const deleteVerbs = ["delete"]

const failed =
  (kind: string, name: string, doing: string, attempt: Attempt) =>
  (error: KubeError): Effect.Effect<Outcome> => {
    if (error._tag === "Forbidden") {
      const message = describeForbidden(error, attempt)
      return Effect.succeed({
        failure: { kind, name, message, reason: "Forbidden" },
        retry: `${kind} ${name}: ${message}`
      })
    }
    return Effect.succeed(
      retryable(error)
        ? { retry: `${doing} ${kind} ${name}: ${describeError(error)}` }
        : { failure: { kind, name, message: describeError(error) } }
    )
  }

/** The Secrets and ConfigMaps `instance` references, from the Store or (first time) read directly. */
const observeReferences = (cache: Cache, instance: ConvexInstance, namespace: string) =>
  Effect.gen(function* () {
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
        Effect.mapError((error) => new RetryableError({ message: `reading ${kind} ${name}: ${describeError(error)}` }))
      )
      if (Option.isSome(read)) {
        yield* cache.remember(read.value)
        found.push(read.value)
      }
    }
    return found
  })

/** The ConvexBackup a restore reads (none once it succeeded, or for an S3 source; a failed one may be retried). */
const observeRestoreSource = (instance: ConvexInstance, namespace: string) =>
  Effect.gen(function* () {
    const backup = instance.spec.restore?.from.backup
    const phase = instance.status?.restore?.phase
    if (backup === undefined || phase === "Succeeded") return []
    const kube = yield* KubeClient
    return yield* kube.get(ConvexBackups, backup, { namespace }).pipe(
      Effect.map((object) => [object]),
      Effect.catchTag("NotFound", () => Effect.succeed([])),
      Effect.mapError(
        (error) => new RetryableError({ message: `reading ConvexBackup ${backup}: ${describeError(error)}` })
      )
    )
  })

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

const addFinalizer = (object: KubeObject) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    return yield* kube
      .patch(
        ConvexInstances,
        object.metadata.name ?? "",
        {
          metadata: {
            finalizers: [...(object.metadata.finalizers ?? []), finalizerName],
            resourceVersion: object.metadata.resourceVersion
          }
        },
        { namespace: object.metadata.namespace ?? "default", type: "merge", fieldManager }
      )
      .pipe(
        Effect.mapError((error) => new RetryableError({ message: `adding the finalizer: ${describeError(error)}` }))
      )
  })

/** One reconcile of the instance `key`. */
export const reconcile = (
  cache: Cache,
  key: ObjectKey,
  settings: ReconcilerSettings
): Effect.Effect<Action, RetryableError | TerminalError, KubeClient | EventRecorder | SecretGenerator> =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    let object = cache.instances.unsafeGet(key)
    if (object === undefined) return Action.awaitChange
    // A deletion is the user's request: the finalizer runs even while the instance is paused.
    if (object.metadata.deletionTimestamp !== undefined) return yield* finalize(object)
    const paused = reconciliationPaused(object.metadata)
    if (!paused && !(object.metadata.finalizers ?? []).includes(finalizerName)) object = yield* addFinalizer(object)

    const decoded = decodeConvexInstance(object)
    if (Either.isLeft(decoded)) {
      return yield* new TerminalError({
        message: `ConvexInstance ${key} does not decode: ${decoded.left.message}`
      })
    }
    const instance = decoded.right
    if (paused) return yield* holdPaused(object, instance, fieldManager)
    const name = object.metadata.name ?? ""
    const namespace = object.metadata.namespace ?? "default"

    // Observe.
    const refused = new Map<string, string>()
    const children: Array<KubeObject> = []
    for (const { kind } of childKinds) {
      for (const child of cache.store(kind).unsafeByIndex("instance", key)) {
        const owner = foreignOwner(child, name)
        if (owner === undefined) children.push(child)
        else refused.set(`${child.kind}/${child.metadata.name ?? ""}`, `${owner.kind} ${owner.name}`)
      }
    }
    const observedChildren = new Set(children.map((child) => `${child.kind}/${child.metadata.name ?? ""}`))
    const references = yield* observeReferences(cache, instance, namespace)
    const restoreSource = yield* observeRestoreSource(instance, namespace)
    const entropy = yield* drawEntropy
    const now = new Date(yield* Clock.currentTimeMillis)
    // Another, older instance may keep the database this one claims (see database-claims.ts).
    const databaseInUse = databaseHolderOf(object, cache.instances.unsafeList(), (ns, secretName) =>
      cache.store("Secret").unsafeGet(Resource.key(ns, secretName))
    )

    // Decide.
    const decision = decide(
      instance,
      {
        objects: [...children, ...references, ...restoreSource] as ReadonlyArray<Observed["objects"][number]>,
        entropy,
        databaseInUse
      },
      now,
      {
        operator: { image: settings.operatorImage },
        podMonitors: cache.podMonitors(),
        proxyPolicies: cache.proxyPolicies()
      }
    )

    // An upgrade does not start while a backup of the instance runs (its Job is in the Job store, unindexed).
    if (decision.status.upgrade !== undefined && instance.status?.upgrade === undefined) {
      const backups = cache
        .store("Job")
        .unsafeList()
        .filter(
          (job) =>
            job.metadata.namespace === namespace &&
            job.metadata.labels?.[backupLabels.instance] === name &&
            job.metadata.labels?.["app.kubernetes.io/component"] === "backup"
        )
        .map((job) => ({
          name: job.metadata.name ?? "",
          phase:
            jobOutcome(job as unknown as Observed["objects"][number]) === "Running" ? ("Running" as const) : undefined,
          createdAt: job.metadata.creationTimestamp ?? ""
        }))
      if (!upgradeMayStart(backups)) {
        yield* Effect.logInfo(
          `${key}: the upgrade waits for the running backup ${backups.map((b) => b.name).join(", ")}`
        )
        return Action.requeueAfter("10 seconds")
      }
    }

    // Act: the applies in waves (see `applyWaves`), each wave's requests concurrently up to the bound; then the
    // deletions, concurrently. Results keep the decision's order, so the status reports failures in a stable order.
    const concurrency = Math.max(1, settings.applyConcurrency ?? defaultApplyConcurrency)
    const applyChild = (child: (typeof decision.apply)[number]): Effect.Effect<Outcome> => {
      const childName = child.metadata.name
      const owner = refused.get(`${child.kind}/${childName}`)
      if (owner !== undefined) {
        return Effect.succeed({
          failure: {
            kind: child.kind,
            name: childName,
            message: `already exists and is controlled by ${owner}; convex-operator does not take it over: delete it or rename the instance`
          }
        })
      }
      if (isGatewayApiKind(child.kind) && !cache.gatewayApi()) {
        return Effect.succeed({
          failure: {
            kind: child.kind,
            name: childName,
            message:
              "Gateway API is not installed in the cluster (no gateway.networking.k8s.io/v1): install its CRDs and a Gateway implementation, or set spec.networking.mode: ingress"
          }
        })
      }
      const resource = resourceOf(child.kind)
      return kube.apply(resource, child as unknown as KubeObject, { fieldManager, force: true }).pipe(
        Effect.tap(() => Effect.logDebug(`applied ${child.kind} ${namespace}/${childName}`)),
        Effect.as(done),
        Effect.catchAll(
          failed(child.kind, childName, "applying", {
            verbs: applyVerbs(observedChildren.has(`${child.kind}/${childName}`)),
            resource: resource.plural,
            group: resource.group,
            namespace
          })
        )
      )
    }
    const deleteObsolete = (obsolete: (typeof decision.delete)[number]): Effect.Effect<Outcome> =>
      refused.has(`${obsolete.kind}/${obsolete.name}`)
        ? Effect.succeed(done)
        : kube.delete(resourceOf(obsolete.kind), obsolete.name, { namespace, propagationPolicy: "Background" }).pipe(
            Effect.tap(() => Effect.logInfo(`deleted ${obsolete.kind} ${namespace}/${obsolete.name}`)),
            Effect.as(done),
            Effect.catchTag("NotFound", () => Effect.succeed(done)),
            Effect.catchAll(
              failed(obsolete.kind, obsolete.name, "deleting", {
                verbs: deleteVerbs,
                resource: resourceOf(obsolete.kind).plural,
                group: resourceOf(obsolete.kind).group,
                namespace
              })
            )
          )
    const outcomes: Array<Outcome> = []
    for (const wave of applyWaves(decision.apply)) {
      outcomes.push(...(yield* Effect.forEach(wave, applyChild, { concurrency })))
    }
    outcomes.push(...(yield* Effect.forEach(decision.delete, deleteObsolete, { concurrency })))
    const failures = outcomes.flatMap((outcome) => (outcome.failure === undefined ? [] : [outcome.failure]))
    const retry = outcomes.flatMap((outcome) => (outcome.retry === undefined ? [] : [outcome.retry]))

    // A pod of a reverted backend template that never became Ready holds the StatefulSet: delete it (only while
    // the StatefulSet is not being applied, so its status describes the template it keeps).
    const backendName = childNames(name).backend
    const rollback = decision.apply.some((child) => child.kind === "StatefulSet" && child.metadata.name === backendName)
      ? undefined
      : yield* forceRollback(
          children.find((child) => child.kind === "StatefulSet" && child.metadata.name === backendName),
          namespace
        )
    retry.push(...(rollback?.retry ?? []))

    // Status and events.
    const status = withApplyFailures(decision.status, failures, childNames(name).dashboard, now)
    if (!equalJson(object.status, status)) {
      yield* kube
        .apply(
          ConvexInstances,
          { apiVersion: object.apiVersion, kind: object.kind, metadata: { name, namespace }, status },
          { fieldManager, force: true, subresource: "status" }
        )
        .pipe(
          Effect.catchAll((error) =>
            error._tag === "Forbidden"
              ? Effect.sync(
                  () =>
                    void retry.push(
                      `updating status: ${describeForbidden(error, {
                        verbs: ["patch"],
                        resource: `${ConvexInstances.plural}/status`,
                        group: ConvexInstances.group,
                        namespace
                      })}`
                    )
                )
              : retryable(error)
                ? Effect.sync(() => void retry.push(`updating status: ${describeError(error)}`))
                : Effect.logError(`updating the status of ${key}: ${describeError(error)}`)
          )
        )
    }
    const events =
      failures.length === 0 ? decision.events : transitionEvents(instance.status?.conditions, status.conditions ?? [])
    yield* recordEvents(object, [...events, ...(rollback?.events ?? [])])

    if (retry.length > 0) return yield* new RetryableError({ message: retry.join("; ") })
    if (failures.length > 0) {
      yield* Effect.logWarning(
        `${key}: ${failures.map((failure) => `${failure.kind} ${failure.name}: ${failure.message}`).join("; ")}`
      )
      return Action.awaitChange
    }
    return Option.match(decision.requeueAfter, {
      onNone: () => Action.awaitChange,
      onSome: (duration) => Action.requeueAfter(duration)
    })
  }).pipe(Effect.withSpan("reconcile", { attributes: { key } }))
