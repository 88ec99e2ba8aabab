/**
 * An upgrade in progress (`status.upgrade`) as its steps, each done, running, failed or to do, and what the current
 * step waits for. The steps and their order are the upgrade plan's (core `internal/upgrade/plan.ts`): exportImport
 * runs Export, SaveEnv, Roll, Import, RestoreEnv; inPlace runs Export (when it took a pre-upgrade backup, i.e.
 * `status.upgrade.backup` is set) and Roll. Export waits for a ConvexBackup, Roll for the backend, the others for a
 * Job named by `upgradeJobName`.
 *
 * @module
 */
import { childNames, type UpgradeStatus, type UpgradeStep } from "@convex-operator/core"
import { upgradeJobName } from "@convex-operator/core/internal"
import type { KubeObject } from "@convex-operator/k8s"
import type { StepState, UpgradeReport } from "./model.js"

const stepOfPhase: Readonly<Record<Exclude<UpgradeStatus["phase"], "Failed">, UpgradeStep>> = {
  Exporting: "Export",
  SavingEnv: "SaveEnv",
  Rolling: "Roll",
  Importing: "Import",
  RestoringEnv: "RestoreEnv"
}

/** The steps of `upgrade`, in the order they run. */
export const upgradeSteps = (upgrade: UpgradeStatus): ReadonlyArray<UpgradeStep> =>
  upgrade.strategy === "exportImport"
    ? ["Export", "SaveEnv", "Roll", "Import", "RestoreEnv"]
    : upgrade.backup !== undefined
      ? ["Export", "Roll"]
      : ["Roll"]

/** The step the upgrade is at (the failed one when it failed). */
export const currentStep = (upgrade: UpgradeStatus): UpgradeStep =>
  upgrade.phase === "Failed" ? (upgrade.failedStep ?? "Export") : stepOfPhase[upgrade.phase]

/** What the current step of `upgrade` of the instance `name` waits for: a ConvexBackup, a Job, or nothing (Roll). */
export const upgradeWork = (
  name: string,
  upgrade: UpgradeStatus
): { readonly kind: "ConvexBackup" | "Job"; readonly name: string } | undefined => {
  const step = currentStep(upgrade)
  if (step === "Roll") return undefined
  if (step === "Export")
    return upgrade.backup === undefined ? undefined : { kind: "ConvexBackup", name: upgrade.backup }
  return { kind: "Job", name: upgradeJobName(childNames(name), step, upgrade.targetHash) }
}

/** The state of a Job (Succeeded, Failed, Running, Pending) or of a ConvexBackup (its phase); Missing when absent. */
export const workState = (object: KubeObject | undefined): string => {
  if (object === undefined) return "Missing"
  const status = (object as { status?: Record<string, unknown> }).status ?? {}
  if (object.kind !== "Job") return typeof status.phase === "string" ? status.phase : "Pending"
  if (typeof status.succeeded === "number" && status.succeeded > 0) return "Succeeded"
  if (typeof status.failed === "number" && status.failed > 0) return "Failed"
  if (typeof status.active === "number" && status.active > 0) return "Running"
  return "Pending"
}

/** The report of `upgrade` of the instance `name`; `work` is what `upgradeWork` names, as read (if found). */
export const upgradeReport = (name: string, upgrade: UpgradeStatus, work: KubeObject | undefined): UpgradeReport => {
  const steps = upgradeSteps(upgrade)
  const current = currentStep(upgrade)
  const at = steps.indexOf(current)
  const failed = upgrade.phase === "Failed"
  const stateOf = (index: number): StepState =>
    index < at ? "done" : index > at ? "to do" : failed ? "failed" : "running"
  const waitsFor = upgradeWork(name, upgrade)
  return {
    strategy: upgrade.strategy,
    ...(upgrade.fromVersion !== undefined ? { from: upgrade.fromVersion } : {}),
    to: upgrade.toVersion,
    phase: upgrade.phase,
    startedAt: upgrade.startedAt,
    ...(upgrade.stepStartedAt !== undefined ? { stepStartedAt: upgrade.stepStartedAt } : {}),
    attempt: upgrade.attempt ?? 1,
    ...(upgrade.maxAttempt !== undefined ? { maxAttempt: upgrade.maxAttempt } : {}),
    ...(upgrade.retryAt !== undefined ? { retryAt: upgrade.retryAt } : {}),
    steps: steps.map((step, index) => ({ step, state: stateOf(index) })),
    ...(waitsFor !== undefined ? { job: { ...waitsFor, state: workState(work) } } : {})
  }
}
