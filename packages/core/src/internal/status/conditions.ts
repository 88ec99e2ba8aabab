/**
 * Conditions as the reference operator names them, each carrying `observedGeneration`. `lastTransitionTime` moves
 * only when a condition's status flips, so an unchanged instance yields an unchanged status (and no write).
 *
 * @module
 */
import type { Condition } from "../../api/index.js"

/** Every condition type, in the order they appear in the status. */
export const conditionTypes = [
  "Ready",
  "ConfigMapReady",
  "SecretsReady",
  "PVCReady",
  "DataPersistent",
  "ServiceReady",
  "DashboardServiceReady",
  "StatefulSetReady",
  "DashboardReady",
  "GatewayReady",
  "HTTPRouteReady",
  "ProxySettingsApplied",
  "UpgradeInProgress",
  "ExportCompleted",
  "ImportCompleted"
] as const
/** Conditions of the backup kinds (Completed of a ConvexBackup, Scheduled of a schedule) and of a restore. */
export const backupConditionTypes = ["RestoreCompleted", "Completed", "Scheduled"] as const
/** Set only while the pause annotation holds the instance (`internal/status/paused.ts`). */
export const pausedConditionType = "ReconciliationPaused"
export type ConditionType =
  | (typeof conditionTypes)[number]
  | (typeof backupConditionTypes)[number]
  | typeof pausedConditionType

/** Reasons used by the conditions (the reference operator's, plus a few more precise ones). */
export const Reason = {
  BackendReady: "BackendReady",
  WaitingForBackend: "WaitingForBackend",
  WaitingForGateway: "WaitingForGateway",
  ValidationFailed: "ValidationFailed",
  Available: "Available",
  Skipped: "Skipped",
  Disabled: "Disabled",
  Provisioning: "Provisioning",
  Ready: "Ready",
  WaitingForCertificate: "WaitingForCertificate",
  NotAccepted: "NotAccepted",
  TrafficStopped: "TrafficStopped",
  UpToDate: "UpToDate",
  Exporting: "Exporting",
  SavingEnv: "SavingEnv",
  Rolling: "Rolling",
  Importing: "Importing",
  RestoringEnv: "RestoringEnv",
  AttemptFailed: "AttemptFailed",
  UpgradeFailed: "UpgradeFailed",
  Succeeded: "Succeeded",
  InProgress: "InProgress",
  Failed: "Failed",
  NotRequired: "NotRequired",
  NotStarted: "NotStarted",
  /** The site host goes to the dev site proxy: the Gateway rejected the `/http` rewrite (ProxySettingsApplied). */
  SiteProxyFallback: "SiteProxyFallback",
  /** The Gateway's own body limit or timeouts apply: the policy CRDs that set them are absent. */
  GatewayLimitsApply: "GatewayLimitsApply",
  /** The apiserver refused one of the operator's requests (RBAC): the message names the verb and resource. */
  Forbidden: "Forbidden"
} as const

/** A condition before the bookkeeping fields are filled in. */
export interface ConditionState {
  readonly type: ConditionType
  readonly status: "True" | "False" | "Unknown"
  readonly reason: string
  readonly message: string
}

/** A time as Kubernetes writes `metav1.Time`: RFC 3339 in UTC with whole seconds. */
export const formatTime = (time: Date): string => `${time.toISOString().slice(0, 19)}Z`

const maxMessageLength = 32768

/**
 * The new conditions: each state with `observedGeneration`, keeping the previous `lastTransitionTime` when the
 * status did not flip. Conditions of other types in `previous` (set by someone else) are kept after ours.
 */
export const applyConditions = (
  previous: ReadonlyArray<Condition> | undefined,
  states: ReadonlyArray<ConditionState>,
  generation: number | undefined,
  now: Date
): ReadonlyArray<Condition> => {
  const byType = new Map((previous ?? []).map((condition) => [condition.type, condition]))
  const ours = new Set<string>(states.map((state) => state.type))
  const rendered = states.map((state): Condition => {
    const old = byType.get(state.type)
    return {
      type: state.type,
      status: state.status,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      lastTransitionTime: old !== undefined && old.status === state.status ? old.lastTransitionTime : formatTime(now),
      reason: state.reason,
      message:
        state.message.length > maxMessageLength ? `${state.message.slice(0, maxMessageLength - 1)}…` : state.message
    }
  })
  return [...rendered, ...(previous ?? []).filter((condition) => !ours.has(condition.type))]
}

/** The condition of `type`, if present. */
export const findCondition = (
  conditions: ReadonlyArray<Condition> | undefined,
  type: ConditionType
): Condition | undefined => conditions?.find((condition) => condition.type === type)

/** Whether the condition of `type` is present and True. */
export const isConditionTrue = (conditions: ReadonlyArray<Condition> | undefined, type: ConditionType): boolean =>
  findCondition(conditions, type)?.status === "True"
