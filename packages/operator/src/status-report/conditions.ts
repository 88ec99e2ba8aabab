/**
 * Which conditions of an instance are "not fine", i.e. worth a line in `status`. Most conditions are good when True.
 * The exceptions say something is going on when True (UpgradeInProgress, ReconciliationPaused), or are at rest when
 * False with a reason that is no failure (ExportCompleted and ImportCompleted before any upgrade, or for inPlace).
 *
 * @module
 */
import type { ConditionLine } from "./model.js"

/** Conditions that report activity when True. */
const activeWhenTrue: ReadonlySet<string> = new Set(["UpgradeInProgress", "ReconciliationPaused"])

/** Reasons that are no failure on a False ExportCompleted/ImportCompleted (core `internal/upgrade/plan.ts`). */
const restingReasons: ReadonlySet<string> = new Set(["NotStarted", "NotRequired", "InProgress", "Disabled"])

/** Whether `condition` needs no attention. */
export const isFine = (condition: ConditionLine): boolean => {
  if (activeWhenTrue.has(condition.type)) return condition.status === "False" && condition.reason !== "UpgradeFailed"
  if (condition.type === "ExportCompleted" || condition.type === "ImportCompleted") {
    return condition.status === "True" || (condition.status === "False" && restingReasons.has(condition.reason))
  }
  return condition.status === "True"
}

/** A condition of a status as the report shows it (missing fields as empty strings). */
export const conditionLine = (raw: unknown): ConditionLine => {
  const condition = (raw ?? {}) as {
    type?: string
    status?: string
    reason?: string
    message?: string
    lastTransitionTime?: string
  }
  const status = condition.status === "True" || condition.status === "False" ? condition.status : "Unknown"
  return {
    type: condition.type ?? "",
    status,
    reason: condition.reason ?? "",
    message: condition.message ?? "",
    ...(condition.lastTransitionTime !== undefined ? { since: condition.lastTransitionTime } : {})
  }
}
