/**
 * Failures of the act step. `decide` cannot know that applying an object will fail; when the shell's apply or
 * delete of a child fails, it folds the failures into the decided status with `withApplyFailures`: the condition
 * of that child turns False with the reference operator's `<Part>Error` reason (or the failure's own reason, such
 * as `Forbidden` when the operator lacks a permission), Ready turns False with the same reason, and the phase
 * becomes Error. Messages come from the shell and must not carry secret values (it passes the error's reason and
 * field causes, or for a denied request only the verb, resource, namespace and user, never a request body).
 *
 * @module
 */
import type { ConvexInstanceStatus } from "../../api/index.js"
import { applyConditions, type ConditionState, type ConditionType, Reason } from "./conditions.js"

/** One child the shell failed to apply or delete. */
export interface ApplyFailure {
  readonly kind: string
  readonly name: string
  /** What went wrong, e.g. `Invalid: spec.template.spec.containers[0].image: Required value`. */
  readonly message: string
  /** The condition reason, when not the kind's `<Part>Error` (e.g. `Forbidden`). */
  readonly reason?: string
}

/** The condition a failure of `kind` is reported on, and its reason. */
export const failureCondition = (
  kind: string,
  name: string,
  dashboardName: string
): { readonly type: ConditionType; readonly reason: string } => {
  switch (kind) {
    case "ConfigMap":
      return { type: "ConfigMapReady", reason: "ConfigMapError" }
    case "Secret":
      return { type: "SecretsReady", reason: "SecretError" }
    case "PersistentVolumeClaim":
      return { type: "PVCReady", reason: "PVCError" }
    case "Service":
      return name === dashboardName
        ? { type: "DashboardServiceReady", reason: "ServiceError" }
        : { type: "ServiceReady", reason: "ServiceError" }
    case "StatefulSet":
      return { type: "StatefulSetReady", reason: "StatefulSetError" }
    case "Deployment":
      return { type: "DashboardReady", reason: "DeploymentError" }
    case "Gateway":
      return { type: "GatewayReady", reason: "GatewayError" }
    case "Job":
      return { type: "UpgradeInProgress", reason: "JobError" }
    // What upgrades create besides Jobs: the env Jobs' ServiceAccount, Role and RoleBinding, the pre-upgrade backup.
    case "ServiceAccount":
    case "Role":
    case "RoleBinding":
    case "ConvexBackup":
      return { type: "UpgradeInProgress", reason: `${kind}Error` }
    case "Ingress":
      return { type: "HTTPRouteReady", reason: "IngressError" }
    // What guards and watches the backend pod.
    case "PodDisruptionBudget":
    case "NetworkPolicy":
    case "PodMonitor":
      return { type: "StatefulSetReady", reason: `${kind}Error` }
    default:
      return { type: "HTTPRouteReady", reason: "HTTPRouteError" }
  }
}

/**
 * The decided status with the failures folded in. `dashboardName` is the dashboard Service's name (to tell it
 * from the backend's). Without failures the status is returned unchanged.
 */
export const withApplyFailures = (
  status: ConvexInstanceStatus,
  failures: ReadonlyArray<ApplyFailure>,
  dashboardName: string,
  now: Date
): ConvexInstanceStatus => {
  if (failures.length === 0) return status
  const byType = new Map<ConditionType, ConditionState>()
  for (const failure of failures) {
    const { type, reason: partReason } = failureCondition(failure.kind, failure.name, dashboardName)
    const reason = failure.reason ?? partReason
    const message = `${failure.kind} ${failure.name}: ${failure.message}`
    const existing = byType.get(type)
    byType.set(type, {
      type,
      status: "False",
      // Of two failures on one condition, a Forbidden one names the reason (it needs an administrator).
      reason: existing !== undefined && existing.reason === Reason.Forbidden ? existing.reason : reason,
      message: existing === undefined ? message : `${existing.message}; ${message}`
    })
  }
  // Ready repeats the first failing condition, or the first Forbidden one: a missing permission is what an
  // administrator must fix before anything else can.
  const failing = [...byType.values()]
  const first = failing.find((state) => state.reason === Reason.Forbidden) ?? failing[0]
  if (first !== undefined) {
    byType.set("Ready", { type: "Ready", status: "False", reason: first.reason, message: first.message })
  }
  const current = status.conditions ?? []
  const states = current.flatMap((condition): ReadonlyArray<ConditionState> => {
    const replaced = byType.get(condition.type as ConditionType)
    return replaced !== undefined
      ? [replaced]
      : [
          {
            type: condition.type as ConditionType,
            status: condition.status,
            reason: condition.reason,
            message: condition.message
          }
        ]
  })
  return {
    ...status,
    phase: "Error",
    conditions: applyConditions(current, states, status.observedGeneration, now)
  }
}
