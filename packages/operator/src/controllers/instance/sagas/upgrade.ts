/**
 * The upgrade saga as a program: one fiber per upgrading instance runs it, in the instance's scope (interrupted when
 * the instance is deleted or the operator loses its lease). It reads like the state diagram of docs/architecture.md:
 * each step waits, on the instance's change stream, for what ends it (its Job or pre-upgrade backup, the backend on
 * the new image) or for the time that moves it on (a retry's backoff, the roll's deadline), and proposes the move the
 * rules of `@convex-operator/core` (`upgradeNext`) give; the next reconcile journals it in `status.upgrade` before it
 * acts on it. A step the strategy skips, or one the journal shows done (an operator restarted mid-upgrade), passes at
 * once, so a restarted operator resumes at the journaled step and never runs a step twice.
 *
 * @module
 */
import { type UpgradeMove, type UpgradeStep, upgradeNext, upgradePassed } from "@convex-operator/core"
import { Clock, Effect } from "effect"
import { equalJson } from "../../../shell/equal-json.js"
import { SagaEnded, type SagaHost, type SagaKind, type SagaSnapshot } from "./host.js"

type Host = SagaHost<UpgradeMove>

/**
 * Drives the journaled `step` of the upgrade with hash `hash` until the journal has passed it. Fails with
 * SagaEnded once the journal no longer runs this upgrade.
 */
const step = (host: Host, hash: string, step: UpgradeStep): Effect.Effect<void, SagaEnded> =>
  Effect.gen(function* () {
    for (;;) {
      const snapshot = yield* host.latest
      const upgrade = snapshot.instance.status?.upgrade
      if (upgrade === undefined) return yield* new SagaEnded({ why: "the upgrade ended" })
      if (upgrade.targetHash !== hash) return yield* new SagaEnded({ why: "another upgrade replaced it" })
      if (upgrade.phase === "Failed") return yield* new SagaEnded({ why: `it failed at ${upgrade.failedStep}` })
      if (upgradePassed(upgrade, step)) return
      const next = upgradeNext(snapshot.instance, snapshot.objects, new Date(yield* Clock.currentTimeMillis))
      if (next.move !== undefined) yield* host.propose(next.move)
      yield* host.changedSince(snapshot, next.wakeAt)
    }
  })

/** The upgrade towards the images of hash `hash`, from the step its journal is at to its end. */
export const upgradeSaga = (host: Host, hash: string): Effect.Effect<void> =>
  Effect.gen(function* () {
    yield* step(host, hash, "Export") // the pre-upgrade ConvexBackup completes (unless preUpgradeBackup is off)
    yield* step(host, hash, "SaveEnv") // exportImport: the env-save Job keeps the environment variables
    yield* step(host, hash, "Roll") // the backend answers on the new images, within the roll's deadline
    yield* step(host, hash, "Import") // exportImport: the import Job fills the new version's fresh data
    yield* step(host, hash, "RestoreEnv") // exportImport: the env-restore Job sets the variables again
    // The journal ends the upgrade when the last step's move is in ("Done"): the step above ends with it.
  }).pipe(
    Effect.catchTag("SagaEnded", (ended) => Effect.logDebug(`upgrade saga ${hash}: over, ${ended.why}`)),
    Effect.annotateLogs({ saga: "upgrade" })
  )

/** The journal's running upgrade (a failed one waits for a retry request, which the decision takes). */
const runningUpgrade = (snapshot: SagaSnapshot) => {
  const upgrade = snapshot.instance.status?.upgrade
  return upgrade === undefined || upgrade.phase === "Failed" ? undefined : upgrade
}

/** The upgrade saga: a run per upgrade (its target hash) while the journal runs it. */
export const upgradeSagaKind: SagaKind<UpgradeMove> = {
  proposes: "upgradeMove",
  runs: (snapshot) => runningUpgrade(snapshot)?.targetHash,
  // Every child: the step's Job or backup, the backend and the dashboard.
  keeps: (snapshot) => snapshot,
  current: (move, snapshot) => equalJson(move.from, snapshot.instance.status?.upgrade),
  program: upgradeSaga
}
