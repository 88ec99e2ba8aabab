/**
 * `decide`: the pure heart of the operator. Given a ConvexInstance, what is observed in its namespace (owned
 * children and referenced Secrets/ConfigMaps), pre-drawn randomness and the current time, it decides every object
 * that should exist, which of them need applying, what must go, the new status, the events to record, and when to
 * look again. It performs no I/O and is deterministic; the shell (observe → decide → act) does the rest.
 *
 * Feeding back what was rendered as observed yields no changes: that fixed point is what makes a steady state
 * free of API writes.
 *
 * @module
 */
import { Duration, Option } from "effect"
import type { ConvexInstance, ConvexInstanceStatus } from "./api/index.js"
import { reconciliationPaused } from "./api/pause.js"
import { type BackupTurn, upgradeMayStart } from "./backup/interlock.js"
import { planRestore, type RestoreMove } from "./backup/restore.js"
import { decisionEvents } from "./internal/decide-events.js"
import { containerImage, referencedValues, routesState } from "./internal/decide-observe.js"
import { conditionsOf, routingReady } from "./internal/decide-status.js"
import { needsApply, sameJson } from "./internal/diff.js"
import { applyConditions, type ConditionState, findCondition } from "./internal/status/conditions.js"
import { type DatabaseHolder, databaseInUseProblem } from "./internal/status/database-conflicts.js"
import { endpointsOf } from "./internal/status/endpoints.js"
import type { DecidedEvent } from "./internal/status/events.js"
import { referencedInstanceSecret } from "./internal/status/instance-secret-ref.js"
import { pausedStatus, resumedConditions } from "./internal/status/paused.js"
import { phaseOf } from "./internal/status/phase.js"
import { proxySettingsCondition } from "./internal/status/proxy-settings.js"
import { validateReferences } from "./internal/status/references.js"
import { deploymentReadiness, statefulSetReadiness } from "./internal/status/workloads.js"
import { backupSource, renderUpgradeBackup, renderUpgradeImportJob } from "./internal/upgrade/backup.js"
import { dataGuardEvents, observedDataVolume, planDataGuard } from "./internal/upgrade/data-guard.js"
import { upgradeInputOf } from "./internal/upgrade/input.js"
import { planUpgrade, type UpgradeMove } from "./internal/upgrade/plan.js"
import { planRestart, type RestartMove, restartInputOf } from "./internal/upgrade/restart.js"
import { backendEnvironment, convexInstanceName } from "./render/backend-env.js"
import { caBundles, caContents } from "./render/ca-bundles.js"
import { renderChildren } from "./render/children.js"
import { instanceNamespace, type OperatorSettings, renderContext } from "./render/context.js"
import { dashboardContainerName } from "./render/dashboard.js"
import { configHashAnnotation, restartedAtAnnotation, shortHash } from "./render/hash.js"
import { type EnvJobStep, upgradeJobName } from "./render/jobs.js"
import { isManagedChild } from "./render/labels.js"
import { childNames } from "./render/names.js"
import { type ChildObject, type KubeObject, objectKey } from "./render/objects.js"
import { indexObserved } from "./render/observed.js"
import type { ProxyPolicyKind } from "./render/proxy-limits.js"
import { gatewayState, type RoutingState } from "./render/route-status.js"
import { decideGeneratedSecrets, type Entropy, type GeneratedSecrets, generatedSecretData } from "./render/secret.js"
import { siteRouteFallback } from "./render/site-route.js"
import { backendContainerName } from "./render/statefulset.js"
import { instanceUrls } from "./render/urls.js"

/** What the shell observed for one instance. */
export interface Observed {
  /** Owned children and referenced Secrets/ConfigMaps in the instance's namespace, as read (with status). */
  readonly objects: ReadonlyArray<KubeObject>
  /**
   * Random bytes drawn before deciding (`drawEntropy`: 32 and 12 bytes); used only when a secret must be
   * generated. Bytes of other lengths are a programming error and make `decide` throw.
   */
  readonly entropy: Entropy
  /**
   * The older instance that keeps the database this one also claims (see `internal/status/database-conflicts.ts`): the
   * backend is then held. Only the shell, which sees every instance, can know it.
   */
  readonly databaseInUse?: DatabaseHolder | undefined
  /**
   * The backups of this instance (as their Jobs tell), for the interlock of `backup/interlock.ts`: an upgrade does
   * not start while one of them runs. They are not children of the instance, so only the shell can pass them.
   */
  readonly backups?: ReadonlyArray<BackupTurn> | undefined
  /**
   * The upgrade saga's move (`upgradeNext` of `sagas.ts`): the journaled step it leaves and the one it enters.
   * `decide` never moves a running upgrade on by itself; it takes this move when it leaves the step `status.upgrade`
   * journals now (else it is stale and ignored) and renders the step it enters.
   */
  readonly upgradeMove?: UpgradeMove | undefined
  /**
   * The restart saga's move (`restartNext` of `sagas.ts`): a due periodic restart happens when the saga
   * proposes it (its timer fired), once (`from` is the journaled `lastRestartTime`).
   */
  readonly restartMove?: RestartMove | undefined
  /** The restore saga's move (`restoreNext` of `sagas.ts`): the end of the running import, once its Job ended. */
  readonly restoreMove?: RestoreMove | undefined
}

/** Settings of the operator that decisions depend on. */
export interface DecideOptions {
  readonly operator: OperatorSettings
  /** Whether the cluster serves `monitoring.coreos.com/v1` PodMonitors (the Prometheus Operator's CRDs). */
  readonly podMonitors?: boolean
  /** The NGINX Gateway Fabric policy kinds (`gateway.nginx.org/v1alpha1`) the cluster serves. */
  readonly proxyPolicies?: ReadonlyArray<ProxyPolicyKind>
}

/** The operator image snapshot Jobs run when the shell does not say (the shell should always say). */
export const defaultDecideOptions: DecideOptions = { operator: { image: "ghcr.io/icod-de/convex-operator:latest" } }

/** The names of the running backups among `backups`. */
const runningBackups = (backups: ReadonlyArray<BackupTurn> | undefined) =>
  (backups ?? [])
    .filter((backup) => backup.phase === "Running")
    .map((backup) => backup.name)
    .join(", ")

/** An object to delete. */
export interface ObjectReference {
  readonly apiVersion: string
  readonly kind: string
  readonly namespace: string
  readonly name: string
}

/** What `decide` decided. */
export interface Decision {
  /** Every child that should exist. */
  readonly desired: ReadonlyArray<ChildObject>
  /** The desired children that are absent or differ from what was observed: apply these (SSA). */
  readonly apply: ReadonlyArray<ChildObject>
  /** Observed children of this instance that are no longer desired. Claims are never deleted. */
  readonly delete: ReadonlyArray<ObjectReference>
  /** The new status. */
  readonly status: ConvexInstanceStatus
  /** Whether `status` differs from the instance's current status (patch it only then). */
  readonly statusChanged: boolean
  /** Events to record. */
  readonly events: ReadonlyArray<DecidedEvent>
  /** When to decide again even if nothing changes (a due restart). */
  readonly requeueAfter: Option.Option<Duration.Duration>
}

/** The conditions with a restore's: Ready stays False until the restore succeeded, and RestoreCompleted. */
const withRestore = (
  states: ReadonlyArray<ConditionState>,
  restore: ReturnType<typeof planRestore>
): ReadonlyArray<ConditionState> => {
  if (restore.condition === undefined) return states
  const held = states.map((state) =>
    state.type === "Ready" && restore.holdReady
      ? {
          ...state,
          status: "False" as const,
          reason: restore.failed ? "RestoreFailed" : "Restoring",
          message: restore.condition?.message ?? ""
        }
      : state
  )
  return [...held, restore.condition]
}

/** The conditions with DataPersistent after PVCReady (the order of `conditionTypes`). */
const withDataPersistent = (
  states: ReadonlyArray<ConditionState>,
  dataPersistent: ConditionState
): ReadonlyArray<ConditionState> =>
  states.flatMap((state) => (state.type === "PVCReady" ? [state, dataPersistent] : [state]))

/** Every kind of child an instance may have: list and watch these (owned by the instance) to observe them. */
export const childKinds: ReadonlyArray<{ readonly apiVersion: string; readonly kind: ChildObject["kind"] }> = [
  { apiVersion: "v1", kind: "ConfigMap" },
  { apiVersion: "v1", kind: "Secret" },
  { apiVersion: "v1", kind: "PersistentVolumeClaim" },
  { apiVersion: "v1", kind: "Service" },
  { apiVersion: "apps/v1", kind: "StatefulSet" },
  { apiVersion: "apps/v1", kind: "Deployment" },
  { apiVersion: "batch/v1", kind: "Job" },
  { apiVersion: "v1", kind: "ServiceAccount" },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role" },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding" },
  { apiVersion: "gateway.networking.k8s.io/v1", kind: "Gateway" },
  { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute" },
  { apiVersion: "networking.k8s.io/v1", kind: "Ingress" },
  // Watched only where NGINX Gateway Fabric's CRDs are installed.
  { apiVersion: "gateway.nginx.org/v1alpha1", kind: "ClientSettingsPolicy" },
  { apiVersion: "gateway.nginx.org/v1alpha1", kind: "ProxySettingsPolicy" },
  { apiVersion: "policy/v1", kind: "PodDisruptionBudget" },
  { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy" },
  // Watched only where the Prometheus Operator's CRDs are installed.
  { apiVersion: "monitoring.coreos.com/v1", kind: "PodMonitor" },
  // The pre-upgrade backups (never deleted: not in deletableKinds).
  { apiVersion: "convex.icod.de/v1alpha1", kind: "ConvexBackup" }
]

/** The kinds `decide` may delete when they are no longer desired (never claims). */
const deletableKinds = new Set([
  "ConfigMap",
  "Secret",
  "Service",
  "StatefulSet",
  "Deployment",
  "Job",
  "ServiceAccount",
  "Role",
  "RoleBinding",
  "Gateway",
  "HTTPRoute",
  "Ingress",
  "ClientSettingsPolicy",
  "ProxySettingsPolicy",
  "PodDisruptionBudget",
  "NetworkPolicy",
  "PodMonitor"
])

/**
 * Decides the desired state, deletions, status, events and next wake-up of `instance`. Pure and deterministic:
 * the same arguments always give the same decision. An instance being deleted gets no decision at all (nothing
 * to apply or delete, its status as it is): the garbage collector removes its owned children. A paused instance
 * (`api/pause.ts`) gets nothing to apply or delete either, only its status with `ReconciliationPaused`.
 */
export const decide = (
  instance: ConvexInstance,
  observed: Observed,
  now: Date,
  options: DecideOptions = defaultDecideOptions
): Decision => {
  if (instance.metadata.deletionTimestamp !== undefined) {
    return {
      desired: [],
      apply: [],
      delete: [],
      status: instance.status ?? {},
      statusChanged: false,
      events: [],
      requeueAfter: Option.none()
    }
  }
  if (reconciliationPaused(instance.metadata)) {
    const paused = pausedStatus(instance, now)
    return {
      desired: [],
      apply: [],
      delete: [],
      status: paused.status,
      statusChanged: instance.status === undefined || !sameJson(instance.status, paused.status),
      events: paused.events,
      requeueAfter: Option.none()
    }
  }
  const index = indexObserved(observed.objects)
  const name = instance.metadata.name ?? ""
  const namespace = instanceNamespace(instance)
  const names = childNames(name)
  const { spec } = instance
  const previous = instance.status

  const urls = instanceUrls(instance, namespace)
  const environment = backendEnvironment(instance, urls, index)
  const problems = [
    ...validateReferences(instance, index, environment),
    ...(observed.databaseInUse === undefined
      ? []
      : [{ ...databaseInUseProblem(observed.databaseInUse), blocking: true }])
  ]
  const holdBackend = problems.some((problem) => problem.blocking)
  const referenced = referencedInstanceSecret(instance, index)
  const secrets: GeneratedSecrets = decideGeneratedSecrets({
    instanceName: convexInstanceName(instance),
    observed: index.secretData(names.secrets),
    referenced: referenced._tag === "Valid" ? referenced.instanceSecret : undefined,
    entropy: observed.entropy,
    now
  })

  // Plans.
  const observedStatefulSet = index.get("StatefulSet", names.backend)
  const observedDeployment = index.get("Deployment", names.dashboard)
  const backendReadiness = statefulSetReadiness(observedStatefulSet)
  const upgradeInput = upgradeInputOf(instance, index, now)
  const { target } = upgradeInput
  // The data guard (upgrade/data-guard.ts) may hold an upgrade that would start now: the running images then stay.
  const wanted = planUpgrade(upgradeInput, observed.upgradeMove)
  const upgradeTo = previous?.upgrade === undefined && wanted.upgrade !== undefined ? target.version : undefined
  const guardInput = {
    spec,
    claimName: names.backendPvc,
    running: observedDataVolume(observedStatefulSet),
    upgradeTo
  }
  // So may a running backup of the instance (backup/interlock.ts): the upgrade starts once its Job has finished. Not
  // the upgrade's own pre-upgrade backup: an operator stopped after creating it and before journaling the upgrade
  // finds it running, and the upgrade goes on with it (holding would stop the upgrade's other steps half begun).
  const ownBackup = wanted.upgrade?.backup
  const backupRunning =
    upgradeTo !== undefined && !upgradeMayStart((observed.backups ?? []).filter((backup) => backup.name !== ownBackup))
  const upgrade =
    backupRunning || planDataGuard({ ...guardInput, restartDue: false }).holdUpgrade
      ? planUpgrade({
          ...upgradeInput,
          target: {
            version: previous?.currentVersion ?? target.version,
            backend: containerImage(observedStatefulSet, backendContainerName) ?? target.backend,
            dashboard: containerImage(observedDeployment, dashboardContainerName) ?? target.dashboard
          }
        })
      : wanted
  const scheduled = planRestart(restartInputOf(instance, index, upgrade.upgrading || upgrade.failed, now))
  const guard = planDataGuard({
    ...guardInput,
    // The claim mounted now: an exportImport upgrade may have moved the data to `<name>-backend-pvc-g<n>`.
    claimName: upgrade.dataClaim ?? names.backendPvc,
    restartDue: scheduled._tag === "Restart"
  })
  // Due by the clock, the restart happens on the saga's move (its fiber woke for it) and only once: a move from
  // another `lastRestartTime` than the journaled one is stale.
  const restartMove = observed.restartMove
  const restart =
    guard.holdRestart ||
    (scheduled._tag === "Restart" && (restartMove === undefined || restartMove.from !== previous?.lastRestartTime))
      ? { _tag: "Waiting" as const, restartedAt: previous?.lastRestartTime, dueAt: undefined }
      : scheduled

  // Rendering.
  const generatedData = generatedSecretData(secrets)
  const configHash = shortHash({
    config: environment.config,
    refs: referencedValues(environment.env, index, { name: names.secrets, data: generatedData }),
    ...(caBundles(instance).length > 0 ? { ca: caContents(instance, index) } : {})
  })
  const dashboardHash = shortHash({
    deploymentUrl: urls.deploymentUrl,
    adminKey: spec.dashboard.prefillAdminKey ? secrets.adminKey : null
  })
  const siteFallback = siteRouteFallback(spec.networking, index.get("HTTPRoute", names.siteRoute))
  const context = renderContext({
    instance,
    urls,
    environment,
    images: upgrade.images,
    backendPodAnnotations: {
      [configHashAnnotation]: configHash,
      ...(restart.restartedAt !== undefined ? { [restartedAtAnnotation]: restart.restartedAt } : {})
    },
    dashboardPodAnnotations: { [configHashAnnotation]: dashboardHash },
    ...(upgrade.dataClaim !== undefined ? { dataClaim: upgrade.dataClaim } : {}),
    dataVolume: guard.volume,
    ...(siteFallback !== undefined ? { siteRouteFallback: siteFallback } : {}),
    operator: options.operator
  })
  // The end of a running import is the restore saga's move (its fiber saw the Job end), taken once.
  const restoreMove = observed.restoreMove
  const restore = planRestore({
    context,
    observed: index.get,
    backendReady: backendReadiness.ready,
    now,
    takeEnd: (ended) =>
      restoreMove !== undefined && sameJson(restoreMove.from, previous?.restore) && restoreMove.to.phase === ended.phase
        ? restoreMove.to
        : undefined
  })
  // The pre-upgrade backup is created once (its spec is immutable); the import reads the location it recorded.
  const preUpgradeBackup =
    upgrade.backup === undefined || index.get("ConvexBackup", upgrade.backup.name) !== undefined
      ? undefined
      : renderUpgradeBackup(
          context,
          upgrade.targetHash,
          upgrade.backup.attempt,
          spec.maintenance.preUpgradeBackup.target
        )
  const importJob = upgrade.jobs.find((job) => job.step === "Import")
  const importSource =
    importJob === undefined
      ? undefined
      : backupSource(upgrade.upgrade?.backup ?? "", index.get("ConvexBackup", upgrade.upgrade?.backup ?? ""))
  const desired = [
    ...renderChildren(context, {
      secrets,
      holdBackend,
      trafficStopped: upgrade.trafficStopped,
      jobs: upgrade.jobs.filter((job): job is { step: EnvJobStep; attempt: number } => job.step !== "Import"),
      envAccess: upgrade.envAccess,
      upgradeHash: upgrade.targetHash,
      podMonitors: options.podMonitors ?? false,
      proxyPolicies: options.proxyPolicies ?? []
    }),
    ...(restore.job !== undefined ? [restore.job] : []),
    ...(preUpgradeBackup !== undefined ? [preUpgradeBackup] : []),
    ...(importJob !== undefined && importSource !== undefined && "from" in importSource
      ? [renderUpgradeImportJob(context, upgrade.targetHash, importJob.attempt, importSource.from)]
      : [])
  ]
  const observedOf = (object: ChildObject) => index.get(object.kind, object.metadata.name)
  const apply = desired.filter((object) => needsApply(object, observedOf(object)))
  const pending = new Set(apply.map(objectKey))
  const inPlace = (kind: string, objectName: string) =>
    index.get(kind, objectName) !== undefined && !pending.has(`${kind}/${objectName}`)

  const desiredKeys = new Set(desired.map(objectKey))
  // Jobs of steps the running upgrade has done stay until it ends (their logs).
  for (const step of upgrade.keepJobs) desiredKeys.add(`Job/${upgradeJobName(names, step, upgrade.targetHash)}`)
  const deletions = observed.objects
    .filter(
      (object) =>
        deletableKinds.has(object.kind) &&
        (object.metadata.namespace ?? namespace) === namespace &&
        isManagedChild(object.metadata.labels, name) &&
        !desiredKeys.has(objectKey(object)) &&
        !(object.kind === "Job" && object.metadata.name === restore.keepJob) &&
        !(holdBackend && object.kind === "StatefulSet" && object.metadata.name === names.backend)
    )
    .map(
      (object): ObjectReference => ({
        apiVersion: object.apiVersion,
        kind: object.kind,
        namespace,
        name: object.metadata.name ?? ""
      })
    )

  // Status.
  const backendApplied = !holdBackend && inPlace("StatefulSet", names.backend)
  const dashboardApplied = inPlace("Deployment", names.dashboard)
  const backend = {
    held: holdBackend,
    ready: backendReadiness.ready && (holdBackend || backendApplied),
    message:
      backendApplied || holdBackend || !backendReadiness.ready
        ? backendReadiness.message
        : "applying the backend StatefulSet"
  }
  const dashboardReadiness = deploymentReadiness(
    observedDeployment,
    upgrade.trafficStopped ? 0 : spec.dashboard.replicas
  )
  const dashboard = {
    ready: spec.dashboard.enabled && !upgrade.trafficStopped && dashboardReadiness.ready && dashboardApplied,
    message:
      dashboardApplied || !dashboardReadiness.ready ? dashboardReadiness.message : "applying the dashboard Deployment"
  }
  const gatewayObject = desired.find((object) => object.kind === "Gateway")
  const gateway =
    gatewayObject === undefined
      ? undefined
      : pending.has(objectKey(gatewayObject))
        ? ({ _tag: "Pending", message: "applying the Gateway" } as const)
        : gatewayState(observedOf(gatewayObject), spec.networking?.tlsSecretRef)
  const routes: RoutingState | undefined =
    spec.networking === undefined || upgrade.trafficStopped ? undefined : routesState(context, desired, pending, index)
  const facts = {
    instance,
    inPlace: {
      configMap: inPlace("ConfigMap", names.backendConfig),
      secret: inPlace("Secret", names.secrets),
      pvc: inPlace("PersistentVolumeClaim", context.names.backendPvc),
      services: inPlace("Service", names.backend) && inPlace("Service", names.backendHeadless),
      dashboardService: inPlace("Service", names.dashboard)
    },
    problems,
    backend,
    dashboard,
    gateway,
    routes,
    proxySettings: proxySettingsCondition({
      networking: spec.networking,
      trafficStopped: upgrade.trafficStopped,
      siteFallback,
      served: options.proxyPolicies ?? [],
      pending: apply.some((object) =>
        ["Ingress", "ClientSettingsPolicy", "ProxySettingsPolicy", "HTTPRoute"].includes(object.kind)
      ),
      siteRouteName: names.siteRoute
    }),
    trafficStopped: upgrade.trafficStopped,
    upgradeFailed: upgrade.failed,
    upgradeConditions:
      guard.holdUpgrade || backupRunning
        ? upgrade.conditions.map((state) =>
            state.type === "UpgradeInProgress"
              ? {
                  ...state,
                  message: backupRunning
                    ? `${state.message}; the upgrade to ${target.version} waits for the running backup ${runningBackups(observed.backups)} to finish`
                    : `${state.message}; the upgrade to ${target.version} is held (see DataPersistent)`
                }
              : state
          )
        : upgrade.conditions
  }
  const generation = instance.metadata.generation
  const resumed = resumedConditions(previous?.conditions)
  const conditions = applyConditions(
    resumed.conditions,
    withRestore(withDataPersistent(conditionsOf(facts), guard.condition), restore),
    generation,
    now
  )
  const ready = findCondition(conditions, "Ready")?.status === "True"
  const status: ConvexInstanceStatus = {
    phase: phaseOf({ upgrading: upgrade.upgrading, failed: holdBackend || upgrade.failed || restore.failed, ready }),
    ...(upgrade.upgradeHash !== undefined ? { upgradeHash: upgrade.upgradeHash } : {}),
    ...(upgrade.currentVersion !== undefined ? { currentVersion: upgrade.currentVersion } : {}),
    ...(upgrade.dataClaims !== undefined ? { dataClaims: upgrade.dataClaims } : {}),
    ...(upgrade.upgrade !== undefined ? { upgrade: upgrade.upgrade } : {}),
    ...(restore.status !== undefined ? { restore: restore.status } : {}),
    ...(restart.restartedAt !== undefined ? { lastRestartTime: restart.restartedAt } : {}),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    endpoints: endpointsOf({
      urls,
      routed: spec.networking !== undefined && routingReady(facts),
      dashboardReady: dashboard.ready
    }),
    conditions
  }

  const events = [
    ...resumed.events,
    ...restore.events,
    ...dataGuardEvents(previous?.conditions, conditions),
    ...decisionEvents({
      instance,
      previous: previous?.conditions,
      conditions,
      secretChange: secrets.change,
      restartTriggered: restart._tag === "Restart"
    })
  ]

  const wakeAts = [restart._tag === "Waiting" ? restart.dueAt : undefined, upgrade.wakeAt].filter(
    (at): at is Date => at !== undefined
  )
  // A pending restore needs no wake-up: the shell watches the ConvexBackup it waits for and the backend.
  const requeueAfter =
    wakeAts.length === 0
      ? Option.none()
      : Option.some(Duration.millis(Math.max(1000, Math.min(...wakeAts.map((at) => at.getTime())) - now.getTime())))

  return {
    desired,
    apply,
    delete: deletions,
    status,
    statusChanged: previous === undefined || !sameJson(previous, status),
    events,
    requeueAfter
  }
}
