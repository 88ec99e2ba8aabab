/**
 * The upgrade plan: a pure state machine over the status, the observed backend and Jobs, and the spec. The
 * operator's sagas only execute what it says (render these images, run these Jobs, stop traffic or not).
 *
 * A change of `version` or of an image starts an upgrade when a backend of other images runs:
 *
 * | phase       | backend / dashboard images | Jobs             | traffic (exportImport) | leaves when                          |
 * |-------------|----------------------------|------------------|------------------------|--------------------------------------|
 * | `Exporting` | old                        | export           | stopped                | export Job succeeded → Rolling       |
 * | `Rolling`   | new                        | export           | stopped                | backend ready on the new image →     |
 * |             |                            |                  |                        | Importing (exportImport) or done     |
 * | `Importing` | new                        | export, import   | stopped                | import Job succeeded → done          |
 * | `Failed`    | as at the failed step      | as at that step  | stopped after import   | the spec changes (new target/revert) |
 *
 * Conditions: `UpgradeInProgress` True with reason Exporting/Rolling/Importing while it runs, False with
 * UpgradeFailed on failure and UpToDate otherwise; `ExportCompleted` and `ImportCompleted` False/InProgress,
 * True/Succeeded, False/Failed (`ImportCompleted` is False/NotRequired for inPlace). Without an upgrade they keep
 * what the last one reported. Done means `status.upgradeHash` = the target hash and `status.currentVersion` =
 * `spec.version`. A first install (no backend yet, or one already on the target image) is not an upgrade.
 *
 * @module
 */
import type { Condition, ConvexInstanceStatus, UpgradeStatus, UpgradeStrategy } from "../api/index.js"
import type { RunningImages } from "../render/context.js"
import { shortHash } from "../render/hash.js"
import { type ConditionState, findCondition, formatTime, Reason } from "../status/conditions.js"
import type { JobOutcome } from "../status/workloads.js"

/** What the upgrade plan reads. */
export interface UpgradeInput {
  /** The images the spec asks for. */
  readonly target: RunningImages
  readonly strategy: UpgradeStrategy
  readonly status: ConvexInstanceStatus | undefined
  /** The backend image of the observed StatefulSet, if one exists. */
  readonly observedBackendImage: string | undefined
  /** The dashboard image of the observed Deployment, if one exists. */
  readonly observedDashboardImage: string | undefined
  /** Whether the observed backend is rolled out and ready on exactly `image`. */
  readonly backendReadyWith: (image: string) => boolean
  /** The outcome of the Job of this name. */
  readonly job: (direction: "export" | "import", hash: string) => JobOutcome
  readonly now: Date
}

/** The plan's decision. */
export interface UpgradePlan {
  /** The images to render now. */
  readonly images: RunningImages
  /** The new `status.upgrade`. */
  readonly upgrade: UpgradeStatus | undefined
  /** The new `status.upgradeHash`. */
  readonly upgradeHash: string | undefined
  /** The new `status.currentVersion`. */
  readonly currentVersion: string | undefined
  /** The snapshot Jobs to render, with the hash they belong to. */
  readonly jobs: ReadonlyArray<"export" | "import">
  /** The hash the Jobs and snapshot file are named by. */
  readonly targetHash: string
  /** Whether public routes are withdrawn (exportImport stops traffic while it runs). */
  readonly trafficStopped: boolean
  /** Whether an upgrade runs (not failed). */
  readonly upgrading: boolean
  /** Whether the upgrade stopped on a failure. */
  readonly failed: boolean
  /** UpgradeInProgress, ExportCompleted and ImportCompleted. */
  readonly conditions: ReadonlyArray<ConditionState>
}

/** The hash of a version and its images: `status.upgradeHash` once they are fully rolled out. */
export const imagesHash = (images: RunningImages): string =>
  shortHash({ version: images.version, backend: images.backend, dashboard: images.dashboard })

const fromImages = (upgrade: UpgradeStatus): RunningImages => ({
  version: upgrade.fromVersion ?? upgrade.toVersion,
  backend: upgrade.fromBackendImage,
  dashboard: upgrade.fromDashboardImage
})

type Step =
  | { readonly _tag: "Idle" }
  | { readonly _tag: "Running"; readonly upgrade: UpgradeStatus }
  | { readonly _tag: "Done" }

const keep = (previous: Condition | undefined, fallback: ConditionState): ConditionState =>
  previous === undefined
    ? fallback
    : { type: fallback.type, status: previous.status, reason: previous.reason, message: previous.message }

/** Decides the upgrade step and what it renders. */
export const planUpgrade = (input: UpgradeInput): UpgradePlan => {
  const { target, status } = input
  const targetHash = imagesHash(target)
  const installedHash = status?.upgradeHash
  const previous = status?.upgrade

  const start = (from: RunningImages): UpgradeStatus => ({
    phase: "Exporting",
    strategy: input.strategy,
    targetHash,
    toVersion: target.version,
    ...(status?.currentVersion !== undefined ? { fromVersion: status.currentVersion } : {}),
    fromBackendImage: from.backend,
    fromDashboardImage: from.dashboard,
    startedAt: formatTime(input.now)
  })
  const observedFrom = (): RunningImages | undefined =>
    input.observedBackendImage === undefined || input.observedBackendImage === target.backend
      ? undefined
      : {
          version: status?.currentVersion ?? target.version,
          backend: input.observedBackendImage,
          dashboard: input.observedDashboardImage ?? target.dashboard
        }

  let step: Step
  if (previous === undefined || installedHash === targetHash) {
    const from = installedHash === undefined || installedHash === targetHash ? undefined : observedFrom()
    step = from === undefined ? { _tag: "Idle" } : { _tag: "Running", upgrade: start(from) }
  } else if (previous.targetHash !== targetHash) {
    const exportStep = previous.phase === "Exporting" || previous.failedStep === "Export"
    const from = exportStep ? fromImages(previous) : observedFrom()
    step = from === undefined ? { _tag: "Idle" } : { _tag: "Running", upgrade: start(from) }
  } else {
    step = { _tag: "Running", upgrade: previous }
  }

  // Advance as far as the observations allow in one decision.
  for (let guard = 0; guard < 4 && step._tag === "Running"; guard++) {
    const upgrade: UpgradeStatus = step.upgrade
    const next = advance(upgrade, input, targetHash)
    if (next === upgrade) break
    step = next === "Done" ? { _tag: "Done" } : { _tag: "Running", upgrade: next }
  }

  const previousConditions = status?.conditions
  if (step._tag === "Idle" || step._tag === "Done") {
    const done = step._tag === "Done"
    const rolledOut = done || input.backendReadyWith(target.backend)
    const exportImport = input.strategy === "exportImport"
    return {
      images: target,
      upgrade: undefined,
      upgradeHash: rolledOut ? targetHash : installedHash,
      currentVersion: rolledOut ? target.version : status?.currentVersion,
      jobs: [],
      targetHash,
      trafficStopped: false,
      upgrading: false,
      failed: false,
      conditions: [
        {
          type: "UpgradeInProgress",
          status: "False",
          reason: Reason.UpToDate,
          message: rolledOut ? `running version ${target.version}` : `installing version ${target.version}`
        },
        done
          ? {
              type: "ExportCompleted",
              status: "True",
              reason: Reason.Succeeded,
              message: `exported before upgrading to ${target.version}`
            }
          : keep(findCondition(previousConditions, "ExportCompleted"), {
              type: "ExportCompleted",
              status: "False",
              reason: Reason.NotStarted,
              message: "no upgrade has run"
            }),
        done && exportImport
          ? {
              type: "ImportCompleted",
              status: "True",
              reason: Reason.Succeeded,
              message: `imported into ${target.version}`
            }
          : done
            ? {
                type: "ImportCompleted",
                status: "False",
                reason: Reason.NotRequired,
                message: "inPlace upgrades import nothing"
              }
            : keep(findCondition(previousConditions, "ImportCompleted"), {
                type: "ImportCompleted",
                status: "False",
                reason: Reason.NotStarted,
                message: "no upgrade has run"
              })
      ]
    }
  }
  return running(step.upgrade, target, targetHash, installedHash, status?.currentVersion)
}

const advance = (upgrade: UpgradeStatus, input: UpgradeInput, hash: string): UpgradeStatus | "Done" => {
  switch (upgrade.phase) {
    case "Exporting": {
      const outcome = input.job("export", hash)
      if (outcome === "Succeeded") return { ...upgrade, phase: "Rolling" }
      if (outcome === "Failed") return { ...upgrade, phase: "Failed", failedStep: "Export" }
      return upgrade
    }
    case "Rolling":
      if (!input.backendReadyWith(input.target.backend)) return upgrade
      return upgrade.strategy === "exportImport" ? { ...upgrade, phase: "Importing" } : "Done"
    case "Importing": {
      const outcome = input.job("import", hash)
      if (outcome === "Succeeded") return "Done"
      if (outcome === "Failed") return { ...upgrade, phase: "Failed", failedStep: "Import" }
      return upgrade
    }
    case "Failed":
      return upgrade
  }
}

const running = (
  upgrade: UpgradeStatus,
  target: RunningImages,
  targetHash: string,
  installedHash: string | undefined,
  currentVersion: string | undefined
): UpgradePlan => {
  const failed = upgrade.phase === "Failed"
  const atExport = upgrade.phase === "Exporting" || upgrade.failedStep === "Export"
  const importing = upgrade.phase === "Importing" || upgrade.failedStep === "Import"
  const exportImport = upgrade.strategy === "exportImport"
  const from = upgrade.fromVersion ?? upgrade.fromBackendImage
  const summary = `upgrade from ${from} to ${upgrade.toVersion}`
  const inProgress: ConditionState = failed
    ? {
        type: "UpgradeInProgress",
        status: "False",
        reason: Reason.UpgradeFailed,
        message: `${summary} stopped: the ${upgrade.failedStep === "Export" ? "export" : "import"} Job failed; change spec.version to retry or revert`
      }
    : {
        type: "UpgradeInProgress",
        status: "True",
        reason: upgrade.phase,
        message:
          upgrade.phase === "Exporting"
            ? `${summary}: exporting a snapshot of the running version`
            : upgrade.phase === "Rolling"
              ? `${summary}: rolling the backend to the new image`
              : `${summary}: importing the snapshot into the new version`
      }
  const exportCondition: ConditionState =
    upgrade.failedStep === "Export"
      ? { type: "ExportCompleted", status: "False", reason: Reason.Failed, message: "the export Job failed" }
      : atExport
        ? { type: "ExportCompleted", status: "False", reason: Reason.InProgress, message: "the export Job runs" }
        : { type: "ExportCompleted", status: "True", reason: Reason.Succeeded, message: "the export Job succeeded" }
  const importCondition: ConditionState = !exportImport
    ? {
        type: "ImportCompleted",
        status: "False",
        reason: Reason.NotRequired,
        message: "inPlace upgrades import nothing"
      }
    : upgrade.failedStep === "Import"
      ? { type: "ImportCompleted", status: "False", reason: Reason.Failed, message: "the import Job failed" }
      : importing
        ? { type: "ImportCompleted", status: "False", reason: Reason.InProgress, message: "the import Job runs" }
        : {
            type: "ImportCompleted",
            status: "False",
            reason: Reason.NotStarted,
            message: "imports after the backend rolled"
          }
  return {
    images: atExport ? fromImages(upgrade) : target,
    upgrade,
    upgradeHash: installedHash,
    currentVersion,
    jobs: importing ? ["export", "import"] : ["export"],
    targetHash,
    trafficStopped: exportImport && !(upgrade.failedStep === "Export"),
    upgrading: !failed,
    failed,
    conditions: [inProgress, exportCondition, importCondition]
  }
}
