/**
 * Retention of a schedule's backups: the newest `keepLast` Completed backups are kept (and as many Failed ones, so
 * recent failures stay visible), and none older than `maxAge`. Backups still Pending or Running are never pruned.
 *
 * @module
 */
import { Order } from "effect"
import type { BackupRetention } from "../api/index.js"
import { goDurationMillis } from "../internal/upgrade/duration.js"

/** What retention needs of a backup. */
export interface RetainedBackup {
  readonly name: string
  readonly phase: "Pending" | "Running" | "Completed" | "Failed" | undefined
  /** When it finished (else when it was created). */
  readonly finishedAt: Date
}

export interface RetentionDecision {
  /** Backups to delete (with their data). */
  readonly prune: ReadonlyArray<string>
  /** When the oldest kept backup passes maxAge (decide again then). */
  readonly nextExpiry: Date | undefined
}

const newestFirst = (a: RetainedBackup, b: RetainedBackup) =>
  b.finishedAt.getTime() - a.finishedAt.getTime() || Order.string(b.name, a.name)

/** Which of `backups` retention prunes at `now`. */
export const applyRetention = (
  backups: ReadonlyArray<RetainedBackup>,
  retention: BackupRetention | undefined,
  now: Date
): RetentionDecision => {
  if (retention === undefined) return { prune: [], nextExpiry: undefined }
  const maxAgeMillis = retention.maxAge === undefined ? undefined : goDurationMillis(retention.maxAge)
  const prune: Array<string> = []
  let nextExpiry: Date | undefined
  for (const phase of ["Completed", "Failed"] as const) {
    const finished = backups.filter((backup) => backup.phase === phase).sort(newestFirst)
    finished.forEach((backup, index) => {
      const beyondCount = retention.keepLast !== undefined && index >= retention.keepLast
      const expiresAt = maxAgeMillis === undefined ? undefined : new Date(backup.finishedAt.getTime() + maxAgeMillis)
      if (beyondCount || (expiresAt !== undefined && expiresAt.getTime() <= now.getTime())) {
        prune.push(backup.name)
      } else if (expiresAt !== undefined && (nextExpiry === undefined || expiresAt < nextExpiry)) {
        nextExpiry = expiresAt
      }
    })
  }
  return { prune: prune.sort(), nextExpiry }
}
