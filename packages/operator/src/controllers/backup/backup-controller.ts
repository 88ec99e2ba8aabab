/**
 * The ConvexBackup controller (k8s `Controller`): observe the backup, its instance, the other backups of that
 * instance, its Job (once the Job is complete, its pod's store report; once it failed, what its failed containers
 * said), and before the Job exists the keys of an S3 target's credentials Secret and the data of the CA bundle it
 * names → `decideBackup` (core) → create the claim and Job, write the status only when it changed, record events on
 * the backup and the instance.
 *
 * @module
 */
import {
  type BackupEvent,
  type BackupTurn,
  backupDataFinalizer,
  backupJobName,
  type ConvexInstance,
  decideBackup,
  decideBackupDeletion,
  decodeConvexBackup,
  decodeConvexInstance,
  jobFailureDetail,
  managedBy,
  parseStoreReport,
  type StoreReport
} from "@convex-operator/core"
import {
  indexObserved,
  invalidBackupStatus,
  jobCaBundle,
  jobOutcome,
  removalJobName,
  storeContainerName,
  upgradeHashLabel
} from "@convex-operator/core/internal"
import {
  Action,
  Controller,
  type EventRecorder,
  KubeClient,
  type KubeObject,
  Resource,
  type TerminalError
} from "@convex-operator/k8s"
import { Clock, Effect, Either } from "effect"
import { ConvexBackups, trimmed } from "../../shell/backup-resources.js"
import type { RetryableError } from "../../shell/errors.js"
import { recordEvents } from "../../shell/events.js"
import { fieldManager } from "../../shell/field-manager.js"
import { reportInvalidSpec } from "../../shell/invalid-spec.js"
import { ConvexInstances } from "../../shell/resources.js"
import { applyStatusIfChanged, retryOn } from "../../shell/writes.js"

export interface BackupControllerOptions {
  /** Namespaces to watch; empty: all namespaces. */
  readonly namespaces: ReadonlyArray<string>
  readonly operatorImage: string
}

const instanceKeyOf = (object: KubeObject): string | undefined => {
  const name = (object as { spec?: { instanceRef?: { name?: string } } }).spec?.instanceRef?.name
  return name === undefined ? undefined : Resource.key(object.metadata.namespace, name)
}

const turnOf = (object: KubeObject): BackupTurn => ({
  name: object.metadata.name ?? "",
  phase: (object as { status?: { phase?: BackupTurn["phase"] } }).status?.phase,
  createdAt: object.metadata.creationTimestamp ?? "",
  upgradeHash: object.metadata.labels?.[upgradeHashLabel]
})

/** Records each event on the backup or on its instance (when that exists). */
const record = (events: ReadonlyArray<BackupEvent>, backup: KubeObject, instance: KubeObject | undefined) =>
  Effect.forEach(
    events,
    (event) => {
      const regarding = event.on === "instance" ? instance : backup
      return regarding === undefined ? Effect.void : recordEvents(regarding, [event])
    },
    { discard: true }
  )

/** Adds or removes the data finalizer (merge patch guarded by the resourceVersion). */
const setFinalizer = (object: KubeObject, present: boolean) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const others = (object.metadata.finalizers ?? []).filter((finalizer) => finalizer !== backupDataFinalizer)
    yield* kube
      .patch(
        ConvexBackups,
        object.metadata.name ?? "",
        {
          metadata: {
            finalizers: present ? [...others, backupDataFinalizer] : others,
            resourceVersion: object.metadata.resourceVersion
          }
        },
        { namespace: object.metadata.namespace ?? "default", type: "merge", fieldManager }
      )
      .pipe(Effect.mapError(retryOn(`${present ? "adding" : "removing"} the finalizer`)))
  })

/** The pods of the Job `job`. */
const podsOf = (namespace: string, job: string) =>
  Effect.flatMap(KubeClient, (kube) =>
    kube.list(Resource.Pod, { namespace, labelSelector: `batch.kubernetes.io/job-name=${job}` })
  ).pipe(
    Effect.map((list) => list.items),
    Effect.mapError(retryOn(`reading the pods of Job ${job}`))
  )

/** The keys of the Secret `name` that hold a non-empty value, or undefined when it does not exist. */
const secretKeysOf = (namespace: string, name: string) =>
  Effect.flatMap(KubeClient, (kube) => kube.get(Resource.Secret, name, { namespace })).pipe(
    Effect.map((secret) => {
      const { data, stringData } = secret as { data?: Record<string, unknown>; stringData?: Record<string, unknown> }
      return Object.entries({ ...data, ...stringData })
        .filter(([, value]) => typeof value === "string" && value !== "")
        .map(([key]) => key)
    }),
    Effect.catchTag("NotFound", () => Effect.succeed(undefined)),
    Effect.mapError(retryOn(`reading Secret ${namespace}/${name}`))
  )

/** The data of the CA bundle object (Secret values decoded), or undefined when it does not exist. */
const caDataOf = (namespace: string, bundle: { readonly kind: "Secret" | "ConfigMap"; readonly name: string }) =>
  Effect.flatMap(KubeClient, (kube) =>
    kube.get(bundle.kind === "Secret" ? Resource.Secret : Resource.ConfigMap, bundle.name, { namespace })
  ).pipe(
    Effect.map((object) => {
      const index = indexObserved([object])
      return bundle.kind === "Secret" ? index.secretData(bundle.name) : index.configMapData(bundle.name)
    }),
    Effect.catchTag("NotFound", () => Effect.succeed(undefined)),
    Effect.mapError(retryOn(`reading ${bundle.kind} ${namespace}/${bundle.name}`))
  )

/** The store container's termination message of the Job's pods. */
const storeReport = (namespace: string, job: string) =>
  Effect.gen(function* () {
    const pods = yield* podsOf(namespace, job)
    for (const pod of pods) {
      const statuses = (pod.status as { containerStatuses?: ReadonlyArray<Record<string, unknown>> } | undefined)
        ?.containerStatuses
      const store = statuses?.find((status) => status.name === storeContainerName) as
        | { state?: { terminated?: { message?: string } } }
        | undefined
      const report = parseStoreReport(store?.state?.terminated?.message)
      if (report !== undefined) return report
    }
    return undefined
  })

/** Starts the ConvexBackup controller in the current scope. */
export const startBackupController = (options: BackupControllerOptions) =>
  Controller.make<KubeObject, RetryableError | TerminalError, KubeClient | EventRecorder>({
    name: "convexbackup",
    resource: ConvexBackups,
    namespaces: options.namespaces,
    watcher: trimmed,
    indexers: { instance: (object) => [instanceKeyOf(object)].filter((key): key is string => key !== undefined) },
    owns: [
      {
        resource: Resource.Job,
        watcher: {
          ...trimmed,
          labelSelector: `app.kubernetes.io/component=backup,app.kubernetes.io/managed-by=${managedBy}`
        }
      }
    ],
    watches: [
      {
        resource: ConvexInstances,
        watcher: trimmed,
        map: (instance, backups) => backups.unsafeByIndex("instance", Resource.keyOf(instance)).map(Resource.keyOf)
      }
    ],
    // A backup that changed (a sibling finishing, say) wakes the other backups of its instance: one of them may be next.
    alsoTrigger: (change, backups) => {
      const instance = instanceKeyOf(change.object)
      const self = Resource.keyOf(change.object)
      return instance === undefined
        ? []
        : backups
            .unsafeByIndex("instance", instance)
            .map(Resource.keyOf)
            .filter((key) => key !== self)
    },
    isTerminal: (error) => error._tag === "TerminalError",
    reconcile: (object, context) =>
      Effect.gen(function* () {
        const kube = yield* KubeClient
        const decoded = decodeConvexBackup(object)
        if (Either.isLeft(decoded)) {
          const now = new Date(yield* Clock.currentTimeMillis)
          return yield* reportInvalidSpec(ConvexBackups, object, invalidBackupStatus(object, decoded.left, now))
        }
        const backup = decoded.right
        const name = backup.metadata.name ?? ""
        const namespace = backup.metadata.namespace ?? "default"
        const instanceKey = Resource.key(namespace, backup.spec.instanceRef.name)
        const instanceObject = context.store(ConvexInstances).unsafeGet(instanceKey)
        const instance: ConvexInstance | undefined =
          instanceObject === undefined ? undefined : Either.getOrUndefined(decodeConvexInstance(instanceObject))
        if (backup.metadata.deletionTimestamp !== undefined) {
          const removalJob = context.store(Resource.Job).unsafeGet(Resource.key(namespace, removalJobName(name)))
          const deletion = decideBackupDeletion({
            backup,
            removalJob,
            operator: { image: options.operatorImage }
          })
          for (const job of deletion.apply) {
            yield* kube
              .apply(Resource.Job, job, { fieldManager, force: true })
              .pipe(Effect.mapError(retryOn(`applying Job ${job.metadata.name}`)))
          }
          yield* record(deletion.events, object, instanceObject)
          if (deletion.release) yield* setFinalizer(object, false)
          return Action.awaitChange
        }
        if (
          backup.spec.deletionPolicy === "Delete" &&
          !(object.metadata.finalizers ?? []).includes(backupDataFinalizer)
        ) {
          yield* setFinalizer(object, true)
        }
        const siblings = context.primaries.unsafeByIndex("instance", instanceKey).map(turnOf)
        const jobName = backupJobName(name)
        const cachedJob = context.store(Resource.Job).unsafeGet(Resource.key(namespace, jobName))
        // The Job and ConvexBackup watches are separate streams: the status write that follows this controller's
        // own creation of the Job can come back before the Job does. A Running backup whose Job the store lacks is
        // only "disappeared" when the apiserver says so too.
        const job =
          cachedJob === undefined && backup.status?.phase === "Running"
            ? yield* kube.get(Resource.Job, jobName, { namespace }).pipe(
                Effect.map((found): KubeObject | undefined => found),
                Effect.catchTag("NotFound", () => Effect.succeed(undefined)),
                Effect.mapError(retryOn(`reading Job ${jobName}`))
              )
            : cachedJob
        const final = backup.status?.phase === "Completed" || backup.status?.phase === "Failed"
        let report: StoreReport | undefined
        if (!final && jobOutcome(job) === "Succeeded") report = yield* storeReport(namespace, jobName)
        const failureDetail =
          !final && jobOutcome(job) === "Failed" ? jobFailureDetail(yield* podsOf(namespace, jobName)) : undefined
        const s3 = backup.spec.target.s3
        const credentialKeys =
          !final && job === undefined && s3 !== undefined ? yield* secretKeysOf(namespace, s3.secretRef.name) : []
        const caBundle = s3 !== undefined ? jobCaBundle(s3) : undefined
        const caData =
          !final && job === undefined && caBundle !== undefined ? yield* caDataOf(namespace, caBundle) : undefined
        let claimExists = true
        const pvc = backup.spec.target.pvc
        if (!final && job === undefined && pvc !== undefined) {
          claimExists = yield* kube
            .get(Resource.PersistentVolumeClaim, pvc.claimName ?? `${backup.spec.instanceRef.name}-backups`, {
              namespace
            })
            .pipe(
              Effect.as(true),
              Effect.catchTag("NotFound", () => Effect.succeed(false)),
              Effect.mapError(retryOn("reading the backup claim"))
            )
        }
        const now = new Date(yield* Clock.currentTimeMillis)
        const decision = decideBackup({
          backup,
          instance,
          siblings,
          job,
          claimExists,
          report,
          credentialKeys,
          caData,
          failureDetail,
          now,
          operator: { image: options.operatorImage }
        })
        for (const child of decision.apply) {
          yield* kube
            .apply(child.kind === "Job" ? Resource.Job : Resource.PersistentVolumeClaim, child, {
              fieldManager,
              force: true
            })
            .pipe(Effect.mapError(retryOn(`applying ${child.kind} ${child.metadata.name}`)))
          yield* Effect.logInfo(`applied ${child.kind} ${namespace}/${child.metadata.name}`)
        }
        yield* applyStatusIfChanged(ConvexBackups, object, decision.status)
        yield* record(decision.events, object, instanceObject)
        // Waiting for its turn: a change of a sibling backup or of the instance wakes it (alsoTrigger, watches).
        return Action.awaitChange
      }).pipe(Effect.annotateLogs({ backup: context.key }))
  })
