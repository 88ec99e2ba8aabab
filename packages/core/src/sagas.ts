/**
 * The rules of the sagas, for the programs that run them (the operator forks them per instance):
 *
 * - the upgrade saga's next move from what is observed, and which step the journal (`status.upgrade`) is at.
 *   `decide` starts, replaces and ends upgrades and renders the journaled step; it never moves a running upgrade on
 *   by itself, but takes the move this gives (`Observed.upgradeMove`);
 * - the periodic restart's: when it falls due, and the restart to propose then (`Observed.restartMove`);
 * - the restore's: the end of the running import once its Job ended (`Observed.restoreMove`).
 *
 * @module
 */
import type { ConvexInstance, UpgradeStatus, UpgradeStep } from "./api/index.js"
import { nextRestoreMove, type RestoreMove } from "./backup/restore.js"
import { upgradeInputOf } from "./internal/upgrade/input.js"
import { currentStep, nextUpgradeMove, type UpgradeNext, upgradeSteps } from "./internal/upgrade/plan.js"
import { nextRestartMove, type RestartNext, restartInputOf } from "./internal/upgrade/restart.js"
import type { KubeObject } from "./render/objects.js"
import { indexObserved } from "./render/observed.js"

export type { RestoreMove } from "./backup/restore.js"
export type { UpgradeMove, UpgradeNext } from "./internal/upgrade/plan.js"
export type { RestartMove, RestartNext } from "./internal/upgrade/restart.js"

/**
 * The next move of `instance`'s running upgrade from its observed children (`Observed.objects`) at `now`, or when time
 * alone may allow one; no move while the journaled step waits, and none for an upgrade that does not run.
 */
export const upgradeNext = (instance: ConvexInstance, objects: ReadonlyArray<KubeObject>, now: Date): UpgradeNext =>
  nextUpgradeMove(upgradeInputOf(instance, indexObserved(objects), now))

/** Whether the journaled upgrade has passed `step` (is at a later one, or skipped it), or ended at it. */
export const upgradePassed = (upgrade: UpgradeStatus, step: UpgradeStep): boolean =>
  upgrade.phase === "Failed" || upgradeSteps.indexOf(currentStep(upgrade)) > upgradeSteps.indexOf(step)

/** The steps of an upgrade in the order they run (a strategy skips some). */
export { upgradeSteps }

/**
 * The periodic restart's next move for `instance` (`maintenance.restartInterval`) from its observed children at
 * `now`: the restart, once due, or when it falls due (none while the backend is not ready or an upgrade runs).
 */
export const restartNext = (instance: ConvexInstance, objects: ReadonlyArray<KubeObject>, now: Date): RestartNext =>
  nextRestartMove(restartInputOf(instance, indexObserved(objects), instance.status?.upgrade !== undefined, now))

/**
 * The restore saga's next move for `instance` (`spec.restore`) from its observed children at `now`: the end of the
 * running import once the Job of the journaled attempt succeeded or failed; none while it runs or no restore runs.
 */
export const restoreNext = (
  instance: ConvexInstance,
  objects: ReadonlyArray<KubeObject>,
  now: Date
): RestoreMove | undefined => nextRestoreMove(instance, indexObserved(objects).get, now)
