/**
 * Failures of the act step. `decide` cannot know that applying an object will fail; when the shell's apply or
 * delete of a child fails, it folds the failures into the decided status with `withApplyFailures`: the condition
 * of that child turns False with the reference operator's `<Part>Error` reason, Ready turns False with the same
 * reason, and the phase becomes Error. Messages come from the apiserver and must not carry secret values (the
 * shell passes the error's reason and field causes, never a request body).
 *
 * @module
 */
import type { ConvexInstanceStatus } from "../api/index.js"
import { applyConditions, type ConditionState, type ConditionType } from "./conditions.js"

/** One child the shell failed to apply or delete. */
export interface ApplyFailure {
  readonly kind: string
  readonly name: string
  /** What went wrong, e.g. `Invalid: spec.template.spec.containers[0].image: Required value`. */
  readonly message: string
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
    default:
      return { type: "HTTPRouteReady", reason: kind === "Ingress" ? "IngressError" : "HTTPRouteError" }
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
    const { type, reason } = failureCondition(failure.kind, failure.name, dashboardName)
    const message = `${failure.kind} ${failure.name}: ${failure.message}`
    const existing = byType.get(type)
    byType.set(type, {
      type,
      status: "False",
      reason,
      message: existing === undefined ? message : `${existing.message}; ${message}`
    })
  }
  const first = [...byType.values()][0]
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
