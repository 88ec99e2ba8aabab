/**
 * Events a decision asks the shell to record (events.k8s.io/v1). They are derived from condition transitions and
 * from what the decision did, so a steady state emits none. No event carries a secret value.
 *
 * @module
 */
import type { Condition } from "../../api/index.js"
import { type ConditionType, findCondition } from "./conditions.js"

/** One event about the instance. */
export interface DecidedEvent {
  readonly type: "Normal" | "Warning"
  /** CamelCase reason, e.g. `ValidationFailed`. */
  readonly reason: string
  /** What the operator did or observed, e.g. `Validate`, `Generate`, `Upgrade`. */
  readonly action: string
  readonly message: string
}

const announced: ReadonlyArray<ConditionType> = [
  "Ready",
  "SecretsReady",
  "UpgradeInProgress",
  "ExportCompleted",
  "ImportCompleted"
]

const warningReason = (reason: string): boolean =>
  reason === "ValidationFailed" || reason === "Forbidden" || reason.endsWith("Error") || reason.endsWith("Failed")

/**
 * The events of condition transitions: a change of status or reason of Ready, SecretsReady and the upgrade
 * conditions. Warnings for failure reasons, Normal otherwise; a new condition that is not a failure is silent, and
 * so is SecretsReady turning fine other than after a failure.
 */
export const transitionEvents = (
  previous: ReadonlyArray<Condition> | undefined,
  next: ReadonlyArray<Condition>
): ReadonlyArray<DecidedEvent> =>
  announced.flatMap((type) => {
    const after = findCondition(next, type)
    if (after === undefined) return []
    const before = findCondition(previous, type)
    if (before !== undefined && before.status === after.status && before.reason === after.reason) return []
    // Invalid references are announced once, by SecretsReady (Ready says the same).
    if (type === "Ready" && after.reason === "ValidationFailed") return []
    const warning = warningReason(after.reason)
    if (before === undefined && !warning && !(type === "Ready" && after.status === "True")) return []
    // SecretsReady becoming fine is news only after a failure (a recovery); on the way to Ready it is noise (one
    // request per new instance for an event nobody acts on).
    if (type === "SecretsReady" && !warning && !warningReason(before?.reason ?? "")) return []
    return [
      {
        type: warning ? "Warning" : "Normal",
        reason:
          type === "Ready" && after.status === "True"
            ? "Ready"
            : type === "UpgradeInProgress" && before?.status === "True" && after.reason === "UpToDate"
              ? "UpgradeCompleted"
              : after.reason,
        action: type === "SecretsReady" ? "Validate" : type === "Ready" ? "Reconcile" : "Upgrade",
        message: `${type}=${after.status}: ${after.message}`
      }
    ]
  })
