/**
 * Act, the third step of a reconcile: server-side apply (field manager `convex-operator`, force) of exactly what
 * `decide` says differs, in waves (what pods read first, then what runs pods; within a wave up to `applyConcurrency`
 * requests at once), deletion of what it says is obsolete, and the deletion of a backend pod a reverted template left
 * behind (`forced-rollback.ts`).
 *
 * Children another controller owns are refused (reported on the instance), children of an earlier instance of the
 * same name are adopted (the apply replaces the owner reference). Conflicts and transient failures ask for a retry;
 * invalid writes become failures for the status; a write the apiserver refuses (RBAC) is both (reason `Forbidden`,
 * naming the verb and resource, see `forbidden.ts`): a permission can be granted again without any change the
 * operator would see.
 *
 * @module
 */
import { childNames, type DecidedEvent, type Decision } from "@convex-operator/core"
import type { ApplyFailure } from "@convex-operator/core/internal"
import { isTransient, KubeClient, type KubeError, type KubeObject, Resource, retryAfterOf } from "@convex-operator/k8s"
import { Effect } from "effect"
import { describeError, longestWait } from "../../shell/errors.js"
import { fieldManager } from "../../shell/field-manager.js"
import { type Attempt, describeForbidden } from "../../shell/forbidden.js"
import { isGatewayApiKind, resourceOf } from "../../shell/resources.js"
import { forceRollback } from "./forced-rollback.js"
import { InstanceCache } from "./instance-cache.js"
import type { Surroundings } from "./observe.js"

/** Requests one reconcile sends at once (applies of one wave, deletions) unless the settings say otherwise. */
export const defaultApplyConcurrency = 4

/** What the writes of one reconcile came to. */
export interface Acted {
  /** Writes that cannot succeed as they are: reported in the status. */
  readonly failures: ReadonlyArray<ApplyFailure>
  /** Why the reconcile should be retried with backoff (empty: no retry). */
  readonly retry: ReadonlyArray<string>
  /** The longest `Retry-After` of the refused requests (429s), if any: the retry waits at least that long. */
  readonly retryAfterMillis?: number
  /** Events of what act did on its own (the forced rollback). */
  readonly events: ReadonlyArray<DecidedEvent>
  /** Whether an apply or a deletion of a child succeeded. */
  readonly wrote: boolean
}

/**
 * What became of one apply or deletion: done, a failure for the status, or a reason to retry the reconcile (a
 * refused request is both).
 */
interface Outcome {
  readonly wrote?: boolean
  readonly failure?: ApplyFailure
  readonly retry?: string
  readonly retryAfterMillis?: number
}
const done: Outcome = {}
const written: Outcome = { wrote: true }

/** Conflicts and transient failures are retried; other failures are reported. */
export const retryable = (error: KubeError) => isTransient(error) || error._tag === "Conflict"

/** Kinds that run pods, which read the other children (Secrets, ConfigMaps, claims, the env Jobs' ServiceAccount). */
const podOwners: ReadonlySet<string> = new Set(["StatefulSet", "Deployment", "Job"])

/**
 * The applies of one reconcile in order: first every child a pod may read or need (configuration, Secrets, claims,
 * Services, ServiceAccounts, Roles, routes), then the RoleBindings, then the kinds that run pods. Within a wave
 * nothing depends on anything else, so its requests may run concurrently; a pod created before its Secret, claim or
 * ServiceAccount would wait or be refused (a Job's controller then backs off for up to minutes). A RoleBinding needs
 * its Role to exist: the apiserver's escalation check reads the Role, and answers NotFound while it is not there yet
 * (seen as a `RoleBindingError` Warning on an upgrade's first step when both went in one wave).
 */
export const applyWaves = <A extends { readonly kind: string }>(
  children: ReadonlyArray<A>
): ReadonlyArray<ReadonlyArray<A>> =>
  [
    children.filter((child) => !podOwners.has(child.kind) && child.kind !== "RoleBinding"),
    children.filter((child) => child.kind === "RoleBinding"),
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
        ? { retry: `${doing} ${kind} ${name}: ${describeError(error)}`, ...longestWait([retryAfterOf(error)]) }
        : { failure: { kind, name, message: describeError(error) } }
    )
  }

/** Carries out `decision` for the instance `object`. */
export const act = (
  object: KubeObject,
  surroundings: Surroundings,
  decision: Decision,
  applyConcurrency: number | undefined
): Effect.Effect<Acted, never, InstanceCache | KubeClient> =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const cache = yield* InstanceCache
    const name = object.metadata.name ?? ""
    const namespace = object.metadata.namespace ?? "default"
    const { refused, existing } = surroundings
    const key = Resource.keyOf(object)
    const observed = (kind: string, childName: string) =>
      surroundings.children.find((child) => child.kind === kind && child.metadata.name === childName)
    const concurrency = Math.max(1, applyConcurrency ?? defaultApplyConcurrency)

    const applyChild = (child: Decision["apply"][number]): Effect.Effect<Outcome> => {
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
      return kube.apply(resource, child, { fieldManager, force: true }).pipe(
        Effect.tap((written) =>
          Effect.sync(() => cache.ownWrites.wroteChild(key, observed(child.kind, childName), child.kind, written))
        ),
        Effect.tap(() => Effect.logDebug(`applied ${child.kind} ${namespace}/${childName}`)),
        Effect.as(written),
        Effect.catchAll(
          failed(child.kind, childName, "applying", {
            verbs: applyVerbs(existing.has(`${child.kind}/${childName}`)),
            resource: resource.plural,
            group: resource.group,
            namespace
          })
        )
      )
    }
    const deleteObsolete = (obsolete: Decision["delete"][number]): Effect.Effect<Outcome> =>
      refused.has(`${obsolete.kind}/${obsolete.name}`)
        ? Effect.succeed(done)
        : kube.delete(resourceOf(obsolete.kind), obsolete.name, { namespace, propagationPolicy: "Background" }).pipe(
            Effect.tap(() =>
              Effect.sync(() =>
                cache.ownWrites.wroteChild(key, observed(obsolete.kind, obsolete.name), obsolete.kind, undefined)
              )
            ),
            Effect.tap(() => Effect.logInfo(`deleted ${obsolete.kind} ${namespace}/${obsolete.name}`)),
            Effect.as(written),
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

    // Results keep the decision's order, so the status reports failures in a stable order.
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
          surroundings.children.find((child) => child.kind === "StatefulSet" && child.metadata.name === backendName),
          namespace
        )
    return {
      failures,
      retry: [...retry, ...(rollback?.retry ?? [])],
      ...longestWait(outcomes.map((outcome) => outcome.retryAfterMillis)),
      events: rollback?.events ?? [],
      wrote: outcomes.some((outcome) => outcome.wrote === true)
    }
  })
