/**
 * Backups, restores and upgrades of one instance never overlap: a backup starts only when the instance is Ready,
 * no upgrade runs and no restore is pending, and it is the oldest waiting backup of the instance with none
 * running (one backup per instance at a time, first come first served); an upgrade does not start while a backup
 * of the instance runs. The upgrade's own pre-upgrade backup (labelled with its hash) is the exception: it runs
 * while the upgrade is Exporting, ahead of backups waiting for the upgrade (they would wait for each other
 * otherwise), still never beside a running backup.
 *
 * @module
 */
import type { ConvexInstance } from "../api/index.js"
import { findCondition } from "../internal/status/conditions.js"

/** What the interlock needs of a backup of the same instance. */
export interface BackupTurn {
  readonly name: string
  readonly phase: "Pending" | "Running" | "Completed" | "Failed" | undefined
  /** metadata.creationTimestamp (RFC 3339, which sorts as time). */
  readonly createdAt: string
  /** The upgrade (its target hash) this backup is the pre-upgrade export of, if it is one. */
  readonly upgradeHash?: string | undefined
}

export type Turn =
  | { readonly _tag: "Go" }
  | { readonly _tag: "Wait"; readonly reason: string; readonly message: string }

const go: Turn = { _tag: "Go" }
const wait = (reason: string, message: string): Turn => ({ _tag: "Wait", reason, message })

const waiting = (backup: BackupTurn) => backup.phase === undefined || backup.phase === "Pending"

/** Whether the backup `self` of `instance` may start, given every backup of the same instance. */
export const backupTurn = (
  self: BackupTurn,
  instance: ConvexInstance | undefined,
  backups: ReadonlyArray<BackupTurn>
): Turn => {
  if (instance === undefined) return wait("InstanceNotFound", "the ConvexInstance does not exist")
  const upgrade = instance.status?.upgrade
  const others = backups.filter((backup) => backup.name !== self.name)
  const running = others.find((backup) => backup.phase === "Running")
  if (
    upgrade?.phase === "Exporting" &&
    self.upgradeHash !== undefined &&
    upgrade.targetHash.startsWith(self.upgradeHash)
  ) {
    return running === undefined ? go : wait("BackupInProgress", `backup ${running.name} of the instance is running`)
  }
  if (upgrade !== undefined && upgrade.phase !== "Failed") {
    return wait("UpgradeInProgress", `the instance is upgrading (${upgrade.phase}); the backup starts after it`)
  }
  const restore = instance.status?.restore
  if (instance.spec.restore !== undefined && restore?.phase !== "Succeeded") {
    return wait("RestoreInProgress", "the instance is being restored; the backup starts after the restore")
  }
  if (findCondition(instance.status?.conditions, "Ready")?.status !== "True") {
    return wait("InstanceNotReady", "the instance is not Ready")
  }
  if (running !== undefined) return wait("BackupInProgress", `backup ${running.name} of the instance is running`)
  const before = others.find(
    (backup) =>
      waiting(backup) &&
      (backup.createdAt < self.createdAt || (backup.createdAt === self.createdAt && backup.name < self.name))
  )
  if (before !== undefined) return wait("Queued", `backup ${before.name} of the instance goes first`)
  return go
}

/** Whether an upgrade of the instance may start: no backup of it is running. */
export const upgradeMayStart = (backups: ReadonlyArray<BackupTurn>): boolean =>
  !backups.some((backup) => backup.phase === "Running")
