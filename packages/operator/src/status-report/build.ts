/**
 * Builds the report of one ConvexInstance from what was read of the cluster and `now`: a pure function, so every
 * state an instance can be in is a unit test. The command (`cli/status.ts`) reads the objects; `text.ts`,
 * `table.ts` and `-o json|yaml` print the result.
 *
 * @module
 */
import {
  type ConvexInstance,
  type ConvexInstanceStatus,
  childNames,
  dashboardPort,
  decodeConvexInstance,
  reconciliationPaused
} from "@convex-operator/core"
import { formatTime, instanceUrls, planRestart } from "@convex-operator/core/internal"
import type { KubeObject } from "@convex-operator/k8s"
import { Either } from "effect"
import { backupsReport } from "./backups.js"
import { conditionLine, isFine } from "./conditions.js"
import { warningEvents } from "./events.js"
import type { ConditionLine, RestartReport, StatusReport, StorageReport } from "./model.js"
import { currentStep, upgradeReport } from "./upgrade.js"

/** What the report of one instance is built from. */
export interface StatusInputs {
  /** The ConvexInstance as read. */
  readonly instance: KubeObject
  /** The data claim named by {@link dataClaimName}, if it exists. */
  readonly claim: KubeObject | undefined
  /** The ConvexBackups of the namespace (those of other instances are ignored). */
  readonly backups: ReadonlyArray<KubeObject>
  /** The ConvexScheduledBackups of the namespace (those of other instances are ignored). */
  readonly schedules: ReadonlyArray<KubeObject>
  /** What the current upgrade step waits for (`upgradeWork`), if it was found. */
  readonly upgradeWork: KubeObject | undefined
  /** Events of the namespace about the instance (others are ignored). */
  readonly events: ReadonlyArray<KubeObject>
  /** What could not be read. */
  readonly problems: ReadonlyArray<string>
  readonly now: Date
}

type RawInstance = KubeObject & {
  readonly metadata: { readonly generation?: number; readonly annotations?: Record<string, string> }
  readonly spec?: { readonly version?: string }
  readonly status?: ConvexInstanceStatus
}

/** The status of `instance` as the operator wrote it (read as is, for display). */
export const statusOf = (instance: KubeObject): ConvexInstanceStatus | undefined => (instance as RawInstance).status

/**
 * The data claim the backend of `instance` mounts: from its roll on, the fresh claim of an exportImport upgrade
 * (core `internal/upgrade/plan.ts`); else the one an earlier upgrade moved to; else `<name>-backend-pvc`.
 */
export const dataClaimName = (instance: KubeObject): string => {
  const status = statusOf(instance)
  const upgrade = status?.upgrade
  if (upgrade?.dataClaim !== undefined && !["Export", "SaveEnv"].includes(currentStep(upgrade))) {
    return upgrade.dataClaim
  }
  return status?.dataClaims?.current ?? childNames(instance.metadata.name ?? "").backendPvc
}

/** The Ready line when the status has no Ready condition: never reported, or paused before the first report. */
const noReady = (paused: boolean): ConditionLine =>
  paused
    ? {
        type: "Ready",
        status: "Unknown",
        reason: "Paused",
        message: "paused before the operator first reported on this instance (see ReconciliationPaused)"
      }
    : {
        type: "Ready",
        status: "Unknown",
        reason: "NotReported",
        message: "the operator has not reported on this instance yet (is it running, and watching this namespace?)"
      }

const storageReport = (
  instance: KubeObject,
  spec: ConvexInstance["spec"] | undefined,
  conditions: ReadonlyArray<ConditionLine>,
  claim: KubeObject | undefined
): StorageReport => {
  const volume = spec?.backend.storage.pvc.enabled === false ? "emptyDir" : "claim"
  const persistent = conditions.find((condition) => condition.type === "DataPersistent")
  const raw = claim as
    | {
        spec?: { storageClassName?: string; resources?: { requests?: { storage?: string } } }
        status?: { phase?: string; capacity?: { storage?: string } }
      }
    | undefined
  const size = raw?.status?.capacity?.storage ?? raw?.spec?.resources?.requests?.storage
  const storageClass = raw?.spec?.storageClassName
  // A claim is reported when one is wanted, or when one exists (an emptyDir kept until the data is safe to move).
  const claimLine =
    volume === "claim" || claim !== undefined
      ? {
          name: dataClaimName(instance),
          phase: claim === undefined ? "Missing" : (raw?.status?.phase ?? "Pending"),
          ...(size !== undefined ? { size } : {}),
          ...(storageClass !== undefined ? { storageClass } : {})
        }
      : undefined
  return {
    volume,
    ...(persistent !== undefined && persistent.status !== "Unknown"
      ? { persistent: persistent.status === "True", reason: persistent.reason, message: persistent.message }
      : {}),
    ...(claimLine !== undefined ? { claim: claimLine } : {}),
    retainedClaims: statusOf(instance)?.dataClaims?.retained ?? []
  }
}

const restartReport = (
  spec: ConvexInstance["spec"] | undefined,
  status: ConvexInstanceStatus | undefined,
  paused: boolean,
  now: Date
): RestartReport => {
  const last = status?.lastRestartTime
  const base = { ...(last !== undefined ? { last } : {}) }
  if (spec === undefined) return { state: "unknown", ...base }
  const interval = spec.maintenance.restartInterval
  const statefulSetReady = status?.conditions?.find((condition) => condition.type === "StatefulSetReady")
  const plan = planRestart({
    interval,
    lastRestartTime: last,
    readySince: statefulSetReady?.status === "True" ? statefulSetReady.lastTransitionTime : undefined,
    upgrading: status?.upgrade !== undefined && status.upgrade.phase !== "Failed",
    now
  })
  const withInterval = { interval, ...base }
  if (plan._tag === "Disabled") return { state: "disabled", ...withInterval }
  if (paused) return { state: "paused", ...withInterval }
  if (plan._tag === "Restart") return { state: "due", ...withInterval }
  if (plan.dueAt === undefined) return { state: "waiting", ...withInterval }
  return { state: "scheduled", at: formatTime(plan.dueAt), ...withInterval }
}

const urlsOf = (
  instance: KubeObject,
  decoded: ConvexInstance | undefined,
  status: ConvexInstanceStatus | undefined
): StatusReport["urls"] => {
  const namespace = instance.metadata.namespace ?? ""
  const rendered = decoded === undefined ? undefined : instanceUrls(decoded, namespace)
  const api = status?.endpoints?.apiUrl ?? rendered?.cloudOrigin
  const site = status?.endpoints?.siteUrl ?? rendered?.siteOrigin
  const dashboard = status?.endpoints?.dashboardUrl ?? rendered?.dashboardUrl
  const dashboardNote =
    dashboard !== undefined
      ? undefined
      : decoded?.spec.dashboard.enabled === false
        ? "disabled (spec.dashboard.enabled is false)"
        : `no public host: kubectl port-forward -n ${namespace} svc/${childNames(instance.metadata.name ?? "").dashboard} ${dashboardPort}`
  return {
    ...(api !== undefined ? { api } : {}),
    ...(site !== undefined ? { site } : {}),
    ...(dashboard !== undefined ? { dashboard } : {}),
    ...(dashboardNote !== undefined ? { dashboardNote } : {})
  }
}

/** The report of one instance. */
export const buildReport = (inputs: StatusInputs): StatusReport => {
  const instance = inputs.instance as RawInstance
  const name = instance.metadata.name ?? ""
  const decoded = decodeConvexInstance(inputs.instance)
  const spec = Either.isRight(decoded) ? decoded.right.spec : undefined
  const status = statusOf(instance)
  const conditions = (status?.conditions ?? []).map(conditionLine)
  const paused = reconciliationPaused(instance.metadata)
  const generation = instance.metadata.generation
  return {
    namespace: instance.metadata.namespace ?? "",
    name,
    ready: conditions.find((condition) => condition.type === "Ready") ?? noReady(paused),
    ...(status?.phase !== undefined ? { phase: status.phase } : {}),
    paused,
    statusCurrent:
      generation === undefined || status?.observedGeneration === undefined || status.observedGeneration === generation,
    version: {
      ...((spec?.version ?? instance.spec?.version) !== undefined
        ? { wanted: spec?.version ?? instance.spec?.version }
        : {}),
      ...(status?.currentVersion !== undefined ? { running: status.currentVersion } : {})
    },
    urls: urlsOf(inputs.instance, Either.isRight(decoded) ? decoded.right : undefined, status),
    conditions: conditions.filter((condition) => condition.type !== "Ready" && !isFine(condition)),
    storage: storageReport(inputs.instance, spec, conditions, inputs.claim),
    backups: backupsReport(name, inputs.backups, inputs.schedules, inputs.now),
    ...(status?.upgrade !== undefined ? { upgrade: upgradeReport(name, status.upgrade, inputs.upgradeWork) } : {}),
    restart: restartReport(spec, status, paused, inputs.now),
    events: warningEvents(inputs.events, name, instance.metadata.uid),
    problems: [
      ...(Either.isLeft(decoded) ? [`the spec does not decode: ${decoded.left.message}`] : []),
      ...inputs.problems
    ]
  }
}
