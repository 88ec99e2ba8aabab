/**
 * The upgrade plan: a pure state machine over the status, the observed backend and Jobs, the spec and now. The
 * operator only executes what it says (render these images, run these Jobs, stop traffic or not, look again at).
 * Every fact it needs to resume is in `status.upgrade`, so a restarted operator continues at the step it was in and
 * never runs a step twice (a Job of the current attempt is found, not created again).
 *
 * Two parts, two callers: `planUpgrade` (called by `decide`) starts, replaces and ends upgrades as the spec asks and
 * renders the step `status.upgrade` journals; `nextUpgradeMove` holds the rules of the steps (the "leaves when"
 * column below, attempts and deadlines) and is what the operator's saga fiber runs to move the upgrade on. `decide`
 * never moves a running upgrade by itself: it takes the saga's move (`Observed.upgradeMove`), journals it and renders
 * the step it enters.
 *
 * A change of `version` or of an image starts an upgrade when a backend of other images runs:
 *
 * | phase          | images | Job (step)         | traffic (exportImport) | leaves when                              |
 * |----------------|--------|--------------------|------------------------|------------------------------------------|
 * | `Exporting`    | old    | ConvexBackup       | stopped                | backup Completed → SavingEnv / Rolling   |
 * | `SavingEnv`    | old    | env-save (SaveEnv) | stopped                | Job succeeded → Rolling (exportImport)   |
 * | `Rolling`      | new    | — (Roll)           | stopped                | backend ready on the new image →         |
 * |                |        |                    |                        | Importing (exportImport) or done         |
 * | `Importing`    | new    | import (Import)    | stopped                | Job succeeded → RestoringEnv             |
 * | `RestoringEnv` | new    | env-restore        | stopped                | Job succeeded → done                     |
 * | `Failed`       | as at the failed step       | stopped unless it failed before the roll | retry / new version |
 *
 * The export is a ConvexBackup per attempt (`backup.ts`), run by the backup controller; its phase is the step's
 * outcome like a Job's. With `preUpgradeBackup.enabled: false` an inPlace upgrade starts at `Rolling`.
 *
 * Failures: a Job runs one pod; when it (or the pre-upgrade backup) fails, the step is attempted again after a
 * backoff ({@link retryBackoff}), up to {@link upgradeAttempts} attempts; then the upgrade stops in `Failed` with
 * `failedStep` (phase `Error`).
 * A roll whose backend is not ready on the new image within {@link rollTimeout} fails the same way. A new value of
 * the annotation {@link retryAnnotation} on a failed upgrade retries the failed step once more with a fresh set of
 * attempts (a value seen while the upgrade ran does not count). Setting `version` back to the running version
 * ends it (a roll back; see the README for what that means after the roll). The pre-upgrade ConvexBackups and the
 * saved-env Secret are never deleted by the operator.
 *
 * A new target mid-upgrade: before the roll (Exporting, SavingEnv, or failed there) the upgrade starts again from
 * the same old images towards the new target (a new export); after it, a new upgrade starts from the images that
 * run now. A target equal to what last fully rolled out ends the upgrade.
 *
 * Conditions: `UpgradeInProgress` True with reason Exporting/SavingEnv/Rolling/Importing/RestoringEnv while it
 * runs, or AttemptFailed while it waits to retry; False with UpgradeFailed on failure and UpToDate otherwise.
 * `ExportCompleted` and `ImportCompleted` False/InProgress, True/Succeeded, False/Failed (`ImportCompleted` is
 * False/NotRequired for inPlace). Without an upgrade they keep what the last one reported. Done means
 * `status.upgradeHash` = the target hash and `status.currentVersion` = `spec.version`. A first install (no backend
 * yet, or one already on the target image) is not an upgrade.
 *
 * exportImport with SQLite on a claim is Convex's "start over": the upgrade names a fresh claim (`dataClaim`,
 * `<name>-backend-pvc-g<n>`, a generation after every claim so far) when it starts; from the roll the new version
 * mounts it and the import fills it, while the old claim keeps the old version's data. Done makes the fresh claim
 * current and retains the old one (`status.dataClaims`); an upgrade that ends otherwise (the version set back, or a
 * new target after the roll, which then starts again from the old images) retains the fresh claim, so the old
 * version runs on its own data again and no later upgrade starts on a used claim. Claims are never deleted.
 *
 * The roll is done when the backend is ready (answers `/version`) on the new image. Convex migrates its metadata
 * after that, in the background while it serves: `MigrationWorker::go` in get-convex/convex-backend
 * `crates/model/src/migrations.rs` reports completion only in its log ("Migration complete"), and no HTTP route
 * exposes the persisted version, so there is nothing more to wait for (SPEC.md, "When an upgrade is done").
 *
 * @module
 */
import type {
  Condition,
  ConvexInstanceStatus,
  DataClaimsStatus,
  UpgradeStatus,
  UpgradeStep,
  UpgradeStrategy
} from "../../api/index.js"
import type { RunningImages } from "../../render/context.js"
import { shortHash } from "../../render/hash.js"
import type { JobStep, UpgradeJobStep } from "../../render/jobs.js"
import { sameJson } from "../diff.js"
import { type ConditionState, findCondition, formatTime, Reason } from "../status/conditions.js"
import type { JobOutcome } from "../status/workloads.js"

/** The instance annotation whose every new value retries a failed upgrade from its failed step. */
export const retryAnnotation = "convex.icod.de/retry-upgrade"

/** Attempts of one step before the upgrade fails (a retry annotation allows as many again). */
export const upgradeAttempts = 3

/** The wait before attempt `attempt + 1` after attempt `attempt` failed: 10 s, 20 s, 40 s … at most 5 min. */
export const retryBackoff = (attempt: number): number => Math.min(10_000 * 2 ** Math.max(0, attempt - 1), 300_000)

/** How long the backend may take to become ready on the new image (three times its startup probe's 10 min). */
export const rollTimeout = 30 * 60_000

/** An observed Job of the upgrade: how it ended, and the attempt it ran (its annotation). */
export interface ObservedJob {
  readonly outcome: JobOutcome
  readonly attempt: number | undefined
  /** Why the step failed without a Job having run (e.g. the backup the import reads is gone). */
  readonly reason?: string
}

/** What the upgrade plan reads. */
export interface UpgradeInput {
  /** The images the spec asks for. */
  readonly target: RunningImages
  readonly strategy: UpgradeStrategy
  /** Whether an upgrade starts with an export (`maintenance.preUpgradeBackup.enabled`; exportImport always does). */
  readonly exportFirst: boolean
  readonly status: ConvexInstanceStatus | undefined
  /** The backend image of the observed StatefulSet, if one exists. */
  readonly observedBackendImage: string | undefined
  /** The dashboard image of the observed Deployment, if one exists. */
  readonly observedDashboardImage: string | undefined
  /** Whether the observed backend is rolled out and ready on exactly `image`. */
  readonly backendReadyWith: (image: string) => boolean
  /** The observed Job of `step` (for Export: the ConvexBackup of attempt `attempt`) in the upgrade with hash `hash`. */
  readonly job: (step: JobStep, hash: string, attempt: number) => ObservedJob
  /** The value of the {@link retryAnnotation} annotation, if set. */
  readonly retryRequest: string | undefined
  /** The pre-upgrade ConvexBackup of attempt `attempt` of the upgrade with hash `hash`. */
  readonly backupName: (hash: string, attempt: number) => string
  /** The saved-env Secret of the upgrade with hash `hash`. */
  readonly savedEnvSecret: (hash: string) => string
  /**
   * The data claims when the backend keeps SQLite on a claim (then exportImport moves to a fresh claim at the
   * roll): the one it mounts when no upgrade moved it (`<name>-backend-pvc`), and how to name generation `n` of it.
   */
  readonly dataClaim?: { readonly base: string; readonly generation: (n: number) => string }
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
  /** The upgrade Jobs to render, with their attempt (never Export: that is {@link UpgradePlan.backup}). */
  readonly jobs: ReadonlyArray<{ readonly step: JobStep; readonly attempt: number }>
  /** The pre-upgrade ConvexBackup to create when absent (the Export step's current attempt). */
  readonly backup: { readonly name: string; readonly attempt: number } | undefined
  /** Steps already done whose Jobs are kept (not deleted) until the upgrade ends, for their logs. */
  readonly keepJobs: ReadonlyArray<UpgradeJobStep>
  /** Whether the env Jobs' ServiceAccount, Role and RoleBinding are rendered. */
  readonly envAccess: boolean
  /** The hash the Jobs and the pre-upgrade backups are named by. */
  readonly targetHash: string
  /** Whether public routes are withdrawn and the dashboard scaled to 0 (exportImport stops traffic). */
  readonly trafficStopped: boolean
  /** Whether an upgrade runs (not failed). */
  readonly upgrading: boolean
  /** Whether the upgrade stopped on a failure. */
  readonly failed: boolean
  /** When to look again even if nothing changes (a retry after backoff, the roll's deadline). */
  readonly wakeAt: Date | undefined
  /** UpgradeInProgress, ExportCompleted and ImportCompleted. */
  readonly conditions: ReadonlyArray<ConditionState>
  /** The data claim to mount now (SQLite on a claim only). */
  readonly dataClaim: string | undefined
  /** The new `status.dataClaims`. */
  readonly dataClaims: DataClaimsStatus | undefined
}

/** The hash of a version and its images: `status.upgradeHash` once they are fully rolled out. */
export const imagesHash = (images: RunningImages): string =>
  shortHash({ version: images.version, backend: images.backend, dashboard: images.dashboard })

const fromImages = (upgrade: UpgradeStatus): RunningImages => ({
  version: upgrade.fromVersion ?? upgrade.toVersion,
  backend: upgrade.fromBackendImage,
  dashboard: upgrade.fromDashboardImage
})

type Phase = UpgradeStatus["phase"]

const stepOfPhase: Readonly<Record<Exclude<Phase, "Failed">, UpgradeStep>> = {
  Exporting: "Export",
  SavingEnv: "SaveEnv",
  Rolling: "Roll",
  Importing: "Import",
  RestoringEnv: "RestoreEnv"
}
const phaseOfStep: Readonly<Record<UpgradeStep, Exclude<Phase, "Failed">>> = {
  Export: "Exporting",
  SaveEnv: "SavingEnv",
  Roll: "Rolling",
  Import: "Importing",
  RestoreEnv: "RestoringEnv"
}
const stepWords: Readonly<Record<UpgradeStep, string>> = {
  Export: "exporting a snapshot of the running version",
  SaveEnv: "saving the environment variables",
  Roll: "rolling the backend and dashboard to the new images",
  Import: "importing the snapshot into the new version",
  RestoreEnv: "restoring the environment variables"
}
const jobWords: Readonly<Record<JobStep, string>> = {
  Export: "pre-upgrade backup",
  SaveEnv: "env-save",
  Import: "import",
  RestoreEnv: "env-restore"
}

/** The step the upgrade is at (the failed one when it failed). */
export const currentStep = (upgrade: UpgradeStatus): UpgradeStep =>
  upgrade.phase === "Failed" ? (upgrade.failedStep ?? "Export") : stepOfPhase[upgrade.phase]

/** Whether the old images still run at this step (before the roll). */
const beforeRoll = (step: UpgradeStep): boolean => step === "Export" || step === "SaveEnv"

/** The steps in the order an upgrade takes them (each strategy skips some: see the table above). */
export const upgradeSteps: ReadonlyArray<UpgradeStep> = ["Export", "SaveEnv", "Roll", "Import", "RestoreEnv"]
const order = upgradeSteps
const reached = (upgrade: UpgradeStatus, step: UpgradeStep): boolean =>
  order.indexOf(currentStep(upgrade)) >= order.indexOf(step)

const parseTime = (time: string | undefined): number | undefined => {
  if (time === undefined) return undefined
  const millis = Date.parse(time)
  return Number.isNaN(millis) ? undefined : millis
}

const keep = (previous: Condition | undefined, fallback: ConditionState): ConditionState =>
  previous === undefined
    ? fallback
    : { type: fallback.type, status: previous.status, reason: previous.reason, message: previous.message }

/** The hash under which a retry request is remembered (annotation values may be long). */
export const retryRequestHash = (value: string | undefined): string | undefined =>
  value === undefined ? undefined : shortHash({ retry: value })

/**
 * A move of the upgrade saga: from the step `status.upgrade` journals (`from`, exactly as journaled) to the next one
 * (`to`), or to the end of the upgrade (`"Done"`).
 */
export interface UpgradeMove {
  readonly from: UpgradeStatus
  readonly to: UpgradeStatus | "Done"
}

/** Where the running upgrade goes next from what is observed, and when to look again if nowhere yet. */
export interface UpgradeNext {
  /** The move to journal, if the observations allow one. */
  readonly move: UpgradeMove | undefined
  /** When time alone may allow a move (a retry's backoff has passed, the roll's deadline). */
  readonly wakeAt: Date | undefined
}

/**
 * Decides the upgrade: starts one when the target differs from what runs, replaces or ends it when the target
 * changes, retries a failed step on a new retry request, takes the saga's `move` (when it leaves the journaled step),
 * and says what the journaled step renders.
 */
export const planUpgrade = (input: UpgradeInput, move?: UpgradeMove): UpgradePlan => {
  const { target, status, now } = input
  const targetHash = imagesHash(target)
  const installedHash = status?.upgradeHash
  const previous = status?.upgrade
  const retryRequest = retryRequestHash(input.retryRequest)

  const exports = input.strategy === "exportImport" || input.exportFirst
  // The claims so far: an upgrade that ends without completing (rolled back, or replaced by another target) leaves
  // its fresh claim retained, so no later upgrade starts on it again.
  const claims =
    input.dataClaim === undefined
      ? status?.dataClaims
      : abandon(status?.dataClaims, previous?.dataClaim, input.dataClaim.base)
  const start = (from: RunningImages): UpgradeStatus => ({
    phase: exports ? "Exporting" : "Rolling",
    strategy: input.strategy,
    targetHash,
    toVersion: target.version,
    ...(status?.currentVersion !== undefined ? { fromVersion: status.currentVersion } : {}),
    fromBackendImage: from.backend,
    fromDashboardImage: from.dashboard,
    startedAt: formatTime(now),
    stepStartedAt: formatTime(now),
    attempt: 1,
    maxAttempt: upgradeAttempts,
    ...(retryRequest !== undefined ? { retryRequest } : {}),
    ...(exports ? { backup: input.backupName(targetHash, 1) } : {}),
    ...(input.strategy === "exportImport" ? { savedEnvSecret: input.savedEnvSecret(targetHash) } : {}),
    ...(input.strategy === "exportImport" && input.dataClaim !== undefined
      ? { dataClaim: freshClaim(input.dataClaim, claims) }
      : {})
  })
  const observedFrom = (): RunningImages | undefined =>
    input.observedBackendImage === undefined || input.observedBackendImage === target.backend
      ? undefined
      : {
          version: status?.currentVersion ?? target.version,
          backend: input.observedBackendImage,
          dashboard: input.observedDashboardImage ?? target.dashboard
        }

  let upgrade: UpgradeStatus | undefined
  if (previous === undefined || installedHash === targetHash) {
    const from = installedHash === undefined || installedHash === targetHash ? undefined : observedFrom()
    upgrade = from === undefined ? undefined : start(from)
  } else if (previous.targetHash !== targetHash) {
    // After the roll onto a fresh claim the old version still has its data on the old claim: start from there.
    const from =
      beforeRoll(currentStep(previous)) || previous.dataClaim !== undefined ? fromImages(previous) : observedFrom()
    upgrade = from === undefined ? undefined : start(from)
  } else {
    upgrade = previous
  }

  // The saga's move, when it leaves the step journaled now (decide never moves a running upgrade on by itself).
  let done: UpgradeStatus | undefined
  if (upgrade !== undefined && upgrade === previous && move !== undefined && sameJson(move.from, previous)) {
    if (move.to === "Done") {
      done = upgrade
      upgrade = undefined
    } else {
      upgrade = move.to
    }
  }
  if (upgrade !== undefined) upgrade = withCurrentBackup(reviewed(upgrade, retryRequest, now), input, targetHash)

  if (upgrade === undefined) {
    const rolledOut = done !== undefined || input.backendReadyWith(target.backend)
    const previousConditions = status?.conditions
    const dataClaims = done?.dataClaim === undefined ? claims : moved(claims, done.dataClaim, input.dataClaim)
    return {
      dataClaims,
      dataClaim: input.dataClaim === undefined ? undefined : (dataClaims?.current ?? input.dataClaim.base),
      images: target,
      upgrade: undefined,
      upgradeHash: rolledOut ? targetHash : installedHash,
      currentVersion: rolledOut ? target.version : status?.currentVersion,
      jobs: [],
      backup: undefined,
      keepJobs: [],
      envAccess: false,
      targetHash,
      trafficStopped: false,
      upgrading: false,
      failed: false,
      wakeAt: undefined,
      conditions: [
        {
          type: "UpgradeInProgress",
          status: "False",
          reason: Reason.UpToDate,
          message: rolledOut ? `running version ${target.version}` : `installing version ${target.version}`
        },
        done !== undefined && !exported(done)
          ? exportDisabled
          : done !== undefined
            ? {
                type: "ExportCompleted",
                status: "True",
                reason: Reason.Succeeded,
                message: `the pre-upgrade ConvexBackup ${done.backup} completed before the upgrade to ${target.version}`
              }
            : keep(findCondition(previousConditions, "ExportCompleted"), {
                type: "ExportCompleted",
                status: "False",
                reason: Reason.NotStarted,
                message: "no upgrade has run"
              }),
        done !== undefined && input.strategy === "exportImport"
          ? {
              type: "ImportCompleted",
              status: "True",
              reason: Reason.Succeeded,
              message: `imported into ${target.version} and restored the environment variables`
            }
          : done !== undefined
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
  const plan = running(upgrade, input, targetHash, installedHash, status?.currentVersion)
  // An upgrade that replaced another keeps that one's fresh claim retained (see `claims`).
  const dataClaims = previous?.dataClaim === upgrade.dataClaim ? status?.dataClaims : claims
  const current = dataClaims?.current ?? input.dataClaim?.base
  return {
    ...plan,
    dataClaims,
    dataClaim:
      input.dataClaim === undefined
        ? undefined
        : upgrade.dataClaim !== undefined && !beforeRoll(currentStep(upgrade))
          ? upgrade.dataClaim
          : current
  }
}

/** The generation of a data claim: 1 for the base name, `n` for `<base>-g<n>`. */
const generationOf = (base: string, claim: string): number => {
  if (claim === base) return 1
  const match = claim.startsWith(`${base}-g`) ? /^[0-9]+$/.exec(claim.slice(base.length + 2)) : null
  return match === null ? 1 : Number(match[0])
}

/** A claim of a generation after every claim so far. */
const freshClaim = (
  dataClaim: NonNullable<UpgradeInput["dataClaim"]>,
  claims: DataClaimsStatus | undefined
): string => {
  const known = [dataClaim.base, ...(claims === undefined ? [] : [claims.current, ...(claims.retained ?? [])])]
  return dataClaim.generation(Math.max(...known.map((claim) => generationOf(dataClaim.base, claim))) + 1)
}

/** The claims with `claim` retained, when it is not already there (an abandoned upgrade's fresh claim). */
const abandon = (
  claims: DataClaimsStatus | undefined,
  claim: string | undefined,
  base: string
): DataClaimsStatus | undefined => {
  if (claim === undefined || claims?.current === claim || claims?.retained?.includes(claim) === true) return claims
  return { current: claims?.current ?? base, retained: [...(claims?.retained ?? []), claim] }
}

/** The claims after a completed upgrade moved the data to `fresh`: the previous current one is retained. */
const moved = (
  claims: DataClaimsStatus | undefined,
  fresh: string,
  dataClaim: UpgradeInput["dataClaim"]
): DataClaimsStatus => {
  const before = claims?.current ?? dataClaim?.base
  const retained = (claims?.retained ?? []).filter((claim) => claim !== fresh)
  return { current: fresh, retained: before === undefined || before === fresh ? retained : [...retained, before] }
}

/** Whether the upgrade exports before it rolls (an upgrade without it started at the roll). */
const exported = (upgrade: UpgradeStatus): boolean => upgrade.backup !== undefined

const exportDisabled: ConditionState = {
  type: "ExportCompleted",
  status: "False",
  reason: Reason.Disabled,
  message: "the upgrade rolled without an export: spec.maintenance.preUpgradeBackup.enabled is false"
}

/** What runs a step, in messages. */
const what = (step: JobStep): string => (step === "Export" ? "the pre-upgrade backup" : `the ${jobWords[step]} Job`)

/** The first attempt of `phase`. */
const enter = (upgrade: UpgradeStatus, phase: Exclude<Phase, "Failed">, now: Date): UpgradeStatus => {
  const { retryAt: _retryAt, failedStep: _failedStep, ...rest } = upgrade
  return { ...rest, phase, stepStartedAt: formatTime(now), attempt: 1, maxAttempt: upgradeAttempts }
}

const fail = (upgrade: UpgradeStatus, step: UpgradeStep, now: Date): UpgradeStatus => {
  const { retryAt: _retryAt, ...rest } = upgrade
  return { ...rest, phase: "Failed", failedStep: step, stepStartedAt: formatTime(now) }
}

/**
 * What the decision makes of a journaled upgrade besides the saga's moves: a new retry request retries a failed step
 * with a fresh set of attempts; a request made while the upgrade runs is remembered, so that only a later one retries.
 */
const reviewed = (upgrade: UpgradeStatus, retryRequest: string | undefined, now: Date): UpgradeStatus => {
  if (upgrade.phase === "Failed") {
    if (retryRequest === undefined || retryRequest === upgrade.retryRequest) return upgrade
    const step = upgrade.failedStep ?? "Export"
    const attempt = (upgrade.attempt ?? 1) + 1
    const { failedStep: _failedStep, retryAt: _retryAt, ...rest } = upgrade
    return {
      ...rest,
      phase: phaseOfStep[step],
      stepStartedAt: formatTime(now),
      attempt,
      maxAttempt: attempt + upgradeAttempts - 1,
      retryRequest
    }
  }
  if (retryRequest === upgrade.retryRequest) return upgrade
  return retryRequest === undefined ? (({ retryRequest: _r, ...rest }) => rest)(upgrade) : { ...upgrade, retryRequest }
}

/** The Export step's backup is the one of its current attempt. */
const withCurrentBackup = (upgrade: UpgradeStatus, input: UpgradeInput, hash: string): UpgradeStatus => {
  if (!exported(upgrade) || currentStep(upgrade) !== "Export") return upgrade
  const backup = input.backupName(hash, upgrade.attempt ?? 1)
  return upgrade.backup === backup ? upgrade : { ...upgrade, backup }
}

/**
 * The rules of one step of a running upgrade (the saga's): what the observations make of it. The step stays (the
 * same object) while its Job or backup runs, the roll waits for the backend, or a retry's backoff has not passed; a
 * success enters the next step; a failure schedules the next attempt, or fails the upgrade after the last.
 */
const advanceStep = (upgrade: UpgradeStatus, input: UpgradeInput, hash: string): UpgradeStatus | "Done" => {
  const { now } = input
  if (upgrade.phase === "Failed") return upgrade
  const exportImport = upgrade.strategy === "exportImport"
  const step = stepOfPhase[upgrade.phase]
  const following = (): UpgradeStatus | "Done" => {
    switch (step) {
      case "Export":
        return enter(upgrade, exportImport ? "SavingEnv" : "Rolling", now)
      case "SaveEnv":
        return enter(upgrade, "Rolling", now)
      case "Roll":
        return exportImport ? enter(upgrade, "Importing", now) : "Done"
      case "Import":
        return enter(upgrade, "RestoringEnv", now)
      case "RestoreEnv":
        return "Done"
    }
  }
  if (step === "Roll") {
    if (input.backendReadyWith(input.target.backend)) return following()
    const since = parseTime(upgrade.stepStartedAt) ?? now.getTime()
    return now.getTime() >= since + rollTimeout ? fail(upgrade, "Roll", now) : upgrade
  }
  const retryAt = parseTime(upgrade.retryAt)
  if (retryAt !== undefined && now.getTime() < retryAt) return upgrade
  const attempt = upgrade.attempt ?? 1
  const observed = input.job(step, hash, attempt)
  // A Job of another attempt is on its way out (not rendered, so deleted); wait for it to go.
  if (observed.outcome === "Absent" || (observed.attempt ?? 1) !== attempt) {
    return retryAt === undefined ? upgrade : (({ retryAt: _r, ...rest }) => rest)(upgrade)
  }
  switch (observed.outcome) {
    case "Running":
      return upgrade
    case "Succeeded":
      return following()
    case "Failed":
      return attempt < (upgrade.maxAttempt ?? upgradeAttempts)
        ? { ...upgrade, attempt: attempt + 1, retryAt: formatTime(new Date(now.getTime() + retryBackoff(attempt))) }
        : fail(upgrade, step, now)
  }
}

/** When time alone may move `upgrade` on: the end of a retry's backoff, or the roll's deadline. */
const timeMovesAt = (upgrade: UpgradeStatus, now: Date): number | undefined => {
  if (upgrade.phase === "Failed") return undefined
  const retryAt = parseTime(upgrade.retryAt)
  if (retryAt !== undefined && now.getTime() < retryAt) return retryAt
  return upgrade.phase === "Rolling" ? (parseTime(upgrade.stepStartedAt) ?? now.getTime()) + rollTimeout : undefined
}

/**
 * The saga's next move of the running upgrade `input.status.upgrade` towards `input.target`, as far as the
 * observations allow (a step whose Job already succeeded, found after a restart, is passed in the same move); none
 * for an upgrade that does not run (absent, failed, or towards another target: the decision replaces that one).
 */
export const nextUpgradeMove = (input: UpgradeInput): UpgradeNext => {
  const from = input.status?.upgrade
  const hash = imagesHash(input.target)
  if (from === undefined || from.phase === "Failed" || from.targetHash !== hash) {
    return { move: undefined, wakeAt: undefined }
  }
  let upgrade: UpgradeStatus = from
  for (let guard = 0; guard < 8; guard++) {
    const next = advanceStep(upgrade, input, hash)
    if (next === "Done") return { move: { from, to: "Done" }, wakeAt: undefined }
    if (next === upgrade) break
    upgrade = withCurrentBackup(next, input, hash)
  }
  if (upgrade !== from) return { move: { from, to: upgrade }, wakeAt: undefined }
  const at = timeMovesAt(from, input.now)
  return { move: undefined, wakeAt: at === undefined ? undefined : new Date(Math.max(at, input.now.getTime() + 1000)) }
}

const running = (
  upgrade: UpgradeStatus,
  input: UpgradeInput,
  targetHash: string,
  installedHash: string | undefined,
  currentVersion: string | undefined
): Omit<UpgradePlan, "dataClaim" | "dataClaims"> => {
  const { target, now } = input
  const failed = upgrade.phase === "Failed"
  const step = currentStep(upgrade)
  const exportImport = upgrade.strategy === "exportImport"
  const attempt = upgrade.attempt ?? 1
  const maxAttempt = upgrade.maxAttempt ?? upgradeAttempts
  const retryAt = parseTime(upgrade.retryAt)
  const waiting = !failed && retryAt !== undefined && now.getTime() < retryAt
  const since = upgrade.stepStartedAt ?? upgrade.startedAt
  const from = upgrade.fromVersion ?? upgrade.fromBackendImage
  const summary = `upgrade from ${from} to ${upgrade.toVersion}`
  const jobStep: JobStep | undefined = step === "Roll" ? undefined : step
  const observed = jobStep === undefined ? undefined : input.job(jobStep, targetHash, attempt)
  // The current attempt's Job, unless a Job of another attempt still has to go first.
  const renderJob =
    jobStep !== undefined &&
    !waiting &&
    (observed === undefined || observed.outcome === "Absent" || (observed.attempt ?? 1) === attempt)

  const fix = `annotate ${retryAnnotation}=<a new value> to retry the ${jobStep === undefined ? "roll" : `${jobWords[jobStep]} step`}, or set spec.version back to ${from} to roll back`
  const inProgress: ConditionState = failed
    ? {
        type: "UpgradeInProgress",
        status: "False",
        reason: Reason.UpgradeFailed,
        message:
          jobStep === undefined
            ? `${summary} stopped at ${since}: the backend was not ready on the new image within ${rollTimeout / 60_000}m; ${fix}`
            : `${summary} stopped at ${since}: ${observed?.reason ?? `${what(jobStep)} failed`} (attempt ${attempt} of ${maxAttempt}); ${fix}`
      }
    : waiting
      ? {
          type: "UpgradeInProgress",
          status: "True",
          reason: Reason.AttemptFailed,
          message: `${summary}: ${observed?.reason ?? `${what(jobStep ?? "Export")} failed`} (attempt ${attempt - 1} of ${maxAttempt}); attempt ${attempt} starts at ${upgrade.retryAt}`
        }
      : {
          type: "UpgradeInProgress",
          status: "True",
          reason: upgrade.phase,
          message: `${summary}: ${stepWords[step]}${jobStep === undefined ? "" : ` (attempt ${attempt} of ${maxAttempt})`}, since ${since}`
        }
  const exportCondition: ConditionState = !exported(upgrade)
    ? exportDisabled
    : failed && step === "Export"
      ? {
          type: "ExportCompleted",
          status: "False",
          reason: Reason.Failed,
          message: `the pre-upgrade ConvexBackup ${upgrade.backup} failed`
        }
      : step === "Export"
        ? {
            type: "ExportCompleted",
            status: "False",
            reason: Reason.InProgress,
            message: `the pre-upgrade ConvexBackup ${upgrade.backup} runs`
          }
        : {
            type: "ExportCompleted",
            status: "True",
            reason: Reason.Succeeded,
            message: `the pre-upgrade ConvexBackup ${upgrade.backup} completed`
          }
  const importCondition: ConditionState = !exportImport
    ? {
        type: "ImportCompleted",
        status: "False",
        reason: Reason.NotRequired,
        message: "inPlace upgrades import nothing"
      }
    : failed && step === "Import"
      ? { type: "ImportCompleted", status: "False", reason: Reason.Failed, message: "the import Job failed" }
      : step === "Import"
        ? { type: "ImportCompleted", status: "False", reason: Reason.InProgress, message: "the import Job runs" }
        : reached(upgrade, "RestoreEnv")
          ? {
              type: "ImportCompleted",
              status: "True",
              reason: Reason.Succeeded,
              message: "the import Job succeeded"
            }
          : {
              type: "ImportCompleted",
              status: "False",
              reason: Reason.NotStarted,
              message: "imports after the backend rolled"
            }
  const wake = waiting
    ? retryAt
    : !failed && step === "Roll"
      ? (parseTime(upgrade.stepStartedAt) ?? now.getTime()) + rollTimeout
      : undefined
  return {
    images: beforeRoll(step) ? fromImages(upgrade) : target,
    upgrade,
    upgradeHash: installedHash,
    currentVersion,
    jobs: renderJob && jobStep !== undefined && jobStep !== "Export" ? [{ step: jobStep, attempt }] : [],
    backup:
      renderJob && jobStep === "Export" && upgrade.backup !== undefined ? { name: upgrade.backup, attempt } : undefined,
    keepJobs: order.filter(
      (done): done is UpgradeJobStep =>
        done !== "Roll" && done !== "Export" && order.indexOf(done) < order.indexOf(step) && exportImport
    ),
    envAccess: exportImport,
    targetHash,
    // Before the roll a failed upgrade leaves the old version running as it was: traffic flows again.
    trafficStopped: exportImport && !(failed && beforeRoll(step)),
    upgrading: !failed,
    failed,
    wakeAt: wake === undefined ? undefined : new Date(Math.max(wake, now.getTime() + 1000)),
    conditions: [inProgress, exportCondition, importCondition]
  }
}
