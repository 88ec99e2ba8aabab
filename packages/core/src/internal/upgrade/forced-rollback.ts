/**
 * Forced rollback of the backend StatefulSet. When a new template's pod never becomes Ready (a bad version, an
 * image that does not start), setting the template back is not enough: with `podManagementPolicy: OrderedReady` the
 * StatefulSet controller waits for that pod to become Ready before it replaces it, which never happens (Kubernetes
 * documentation, StatefulSet, "Forced rollback": "After reverting the template, you must also delete any Pods that
 * StatefulSet had already attempted to run with the bad configuration").
 *
 * The operator does that deletion itself, for exactly these pods: owned by the backend StatefulSet, not being
 * deleted already, not Ready, and labelled with a revision that is neither the StatefulSet's current nor its update
 * revision, as reported by a StatefulSet status of its latest generation (so the template was reverted or replaced
 * after the pod was created, and the controller will not create a pod of that revision again). A Ready pod is never
 * deleted, and a pod of the revision the StatefulSet rolls to never either. The shell deletes each pod with a UID
 * precondition, so a pod is deleted at most once: its replacement has another UID and the update revision.
 *
 * @module
 */
import { Option, Schema } from "effect"
import type { KubeObject } from "../../render/objects.js"
import type { DecidedEvent } from "../status/events.js"

/** The pod label the StatefulSet controller writes with the name of the pod's ControllerRevision. */
export const revisionLabel = "controller-revision-hash"

const StatefulSetState = Schema.Struct({
  spec: Schema.optionalWith(Schema.Struct({ replicas: Schema.optionalWith(Schema.Number, { exact: true }) }), {
    exact: true
  }),
  status: Schema.optionalWith(
    Schema.Struct({
      observedGeneration: Schema.optionalWith(Schema.Number, { exact: true }),
      readyReplicas: Schema.optionalWith(Schema.Number, { exact: true }),
      currentRevision: Schema.optionalWith(Schema.String, { exact: true }),
      updateRevision: Schema.optionalWith(Schema.String, { exact: true })
    }),
    { exact: true }
  )
})
const PodState = Schema.Struct({
  status: Schema.optionalWith(
    Schema.Struct({
      conditions: Schema.optionalWith(Schema.Array(Schema.Struct({ type: Schema.String, status: Schema.String })), {
        exact: true
      })
    }),
    { exact: true }
  )
})
const decodeStatefulSet = Schema.decodeUnknownOption(StatefulSetState)
const decodePod = Schema.decodeUnknownOption(PodState)

/** The revisions a StatefulSet whose status describes its latest generation keeps pods of. */
const wantedRevisions = (statefulSet: KubeObject): ReadonlySet<string> | undefined => {
  const state = Option.getOrUndefined(decodeStatefulSet(statefulSet))
  const status = state?.status
  if (status?.currentRevision === undefined || status.updateRevision === undefined) return undefined
  const generation = statefulSet.metadata.generation
  if (generation !== undefined && status.observedGeneration !== generation) return undefined
  return new Set([status.currentRevision, status.updateRevision])
}

/**
 * Whether the observed StatefulSet may be held by a pod of a template it no longer has, so that its pods are worth
 * listing: its spec changed since it was created (a StatefulSet of generation 1 has had one template, so every pod
 * it made is of a revision it wants), its status describes its latest generation, and fewer pods are ready than it
 * asks for. A Ready backend gives false, so a steady state lists no pods, and neither does a new backend coming up.
 */
export const mayHoldStalePod = (statefulSet: KubeObject | undefined): boolean => {
  if (statefulSet === undefined || (statefulSet.metadata.generation ?? 1) <= 1) return false
  if (wantedRevisions(statefulSet) === undefined) return false
  const state = Option.getOrUndefined(decodeStatefulSet(statefulSet))
  return (state?.status?.readyReplicas ?? 0) < (state?.spec?.replicas ?? 1)
}

/** A pod of a revision the StatefulSet no longer wants, which it will not replace by itself. */
export interface StalePod {
  /** The pod's name. */
  readonly name: string
  /** The pod's UID: the deletion's precondition. */
  readonly uid: string
  /** Its `controller-revision-hash`: the revision the StatefulSet no longer has. */
  readonly revision: string
}

const isReady = (pod: KubeObject): boolean =>
  Option.getOrUndefined(decodePod(pod))?.status?.conditions?.some(
    (condition) => condition.type === "Ready" && condition.status === "True"
  ) === true

const ownedBy = (pod: KubeObject, statefulSet: KubeObject): boolean =>
  (pod.metadata.ownerReferences ?? []).some(
    (owner) =>
      owner.controller === true &&
      owner.kind === "StatefulSet" &&
      owner.name === statefulSet.metadata.name &&
      (statefulSet.metadata.uid === undefined || owner.uid === statefulSet.metadata.uid)
  )

/**
 * The pods of `statefulSet` to delete so that it rolls back (see the module comment). `statefulSet` must be read
 * after `pods` were listed: a pod created after a status was read could carry a revision that status does not name.
 */
export const stalePods = (
  statefulSet: KubeObject | undefined,
  pods: ReadonlyArray<KubeObject>
): ReadonlyArray<StalePod> => {
  if (statefulSet === undefined) return []
  const wanted = wantedRevisions(statefulSet)
  if (wanted === undefined) return []
  return pods.flatMap((pod) => {
    const revision = pod.metadata.labels?.[revisionLabel]
    const { name, uid } = pod.metadata
    if (revision === undefined || name === undefined || uid === undefined) return []
    if (pod.metadata.deletionTimestamp !== undefined || wanted.has(revision)) return []
    if (!ownedBy(pod, statefulSet) || isReady(pod)) return []
    return [{ name, uid, revision }]
  })
}

/** The event about a deleted stale pod. */
export const forcedRollbackEvent = (statefulSet: string, pod: StalePod): DecidedEvent => ({
  type: "Normal",
  reason: "ForcedRollback",
  action: "Rollback",
  message:
    `deleted pod ${pod.name}: it is not Ready and runs revision ${pod.revision}, a template StatefulSet ${statefulSet} ` +
    "no longer has; a StatefulSet does not replace such a pod by itself (Kubernetes: StatefulSet, Forced rollback)"
})
