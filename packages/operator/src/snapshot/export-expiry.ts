/**
 * Expiring the backend's own copy of a backup's export. Every `convex export` leaves a completed snapshot in the
 * backend's exports storage that expires 14 days later (`DEFAULT_EXPORT_RETENTION`) and is purged
 * `MAX_EXPIRED_SNAPSHOT_AGE_DAYS` after that (get-convex/convex-backend `crates/model/src/exports/mod.rs`,
 * `crates/common/src/knobs.rs`); hourly backups would pile up hundreds of full ZIPs on the data volume or the
 * exports bucket. So:
 *
 * - the export step ({@link recordExport}) learns which snapshot the CLI downloaded: the `_id` of the latest
 *   `snapshotExport` document (`_system/cli/exports:getLatest`, the query the CLI itself waits on), checked
 *   against the timestamp the CLI printed, and writes it to a small record file beside the ZIP;
 * - the store step ({@link expireRecordedExport}), once the ZIP is where the ConvexBackup says, sets that
 *   snapshot's expiration to now (`POST /api/export/set_expiration/{id}`), and removes the record.
 *
 * Neither fails its step: a snapshot that cannot be identified or expired is reported, and the backup stands.
 *
 * @module
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { Clock, Effect } from "effect"
import { DeploymentApi } from "./DeploymentApi.js"

/** What the export step found out about the backend-side snapshot. */
export type ExportRecord = { readonly id: string; readonly startTs: string } | { readonly problem: string }

/** The system query whose value is the latest snapshot export (the one `convex export` requested). */
export const latestExportQuery = "_system/cli/exports:getLatest"

/** An int64 in Convex's encoded JSON (`{"$integer": <8 bytes little-endian, base64>}`), or undefined. */
export const decodeInt64 = (value: unknown): bigint | undefined => {
  if (typeof value === "object" && value !== null && "$integer" in value) {
    const bytes = Buffer.from(String((value as { $integer: unknown }).$integer), "base64")
    return bytes.length === 8 ? bytes.readBigInt64LE(0) : undefined
  }
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value)
  return undefined
}

/** The timestamp in the CLI's "Created snapshot export at timestamp <ts>" line (convexExport.ts), if printed. */
export const printedExportTs = (stderr: string): bigint | undefined => {
  const match = /Created snapshot export at timestamp (\d+)/.exec(stderr)
  return match?.[1] !== undefined ? BigInt(match[1]) : undefined
}

/** The record of the latest export, checked against the timestamp the CLI printed (when it printed one). */
export const identifyExport = (latest: unknown, printedTs: bigint | undefined): ExportRecord => {
  if (typeof latest !== "object" || latest === null) return { problem: "the backend lists no snapshot export" }
  const { _id: id, state, start_ts } = latest as { _id?: unknown; state?: unknown; start_ts?: unknown }
  const startTs = decodeInt64(start_ts)
  if (typeof id !== "string" || state !== "completed" || startTs === undefined) {
    return { problem: `the latest snapshot export is not a completed one (state ${String(state)})` }
  }
  if (printedTs !== undefined && printedTs !== startTs) {
    return {
      problem: `the latest snapshot export (timestamp ${startTs}) is not the one downloaded (timestamp ${printedTs}): another export ran meanwhile`
    }
  }
  return { id, startTs: startTs.toString() }
}

const writeRecord = (path: string, record: ExportRecord) =>
  Effect.try({
    try: () => writeFileSync(path, `${JSON.stringify(record)}\n`),
    catch: (cause) => `cannot write ${path}: ${String(cause)}`
  })

/** After `convex export`: writes the record of the snapshot it downloaded to `path` (never fails the export). */
export const recordExport = Effect.fn("snapshot.recordExport")(function* (path: string, cliStderr: string) {
  const api = yield* DeploymentApi
  const record = yield* api.query(latestExportQuery).pipe(
    Effect.map((latest) => identifyExport(latest, printedExportTs(cliStderr))),
    Effect.catchAll((error) => Effect.succeed<ExportRecord>({ problem: error.message }))
  )
  if ("problem" in record)
    yield* Effect.logWarning(`cannot identify the backend's copy of this export: ${record.problem}`)
  else yield* Effect.logInfo(`the backend keeps this export as snapshot ${record.id} until it is expired`)
  yield* writeRecord(path, record).pipe(Effect.catchAll((message) => Effect.logWarning(message)))
})

/** How the backend-side snapshot fared. */
export type ExpiryOutcome = { readonly expired: string } | { readonly warning: string }

/**
 * Expires the snapshot recorded at `path` as of now, then removes the record. Never fails: what went wrong is the
 * warning of the outcome (and a log line).
 */
export const expireRecordedExport = Effect.fn("snapshot.expireRecordedExport")(function* (path: string) {
  const outcome: ExpiryOutcome = yield* Effect.gen(function* () {
    let record: ExportRecord
    try {
      record = JSON.parse(readFileSync(path, "utf8")) as ExportRecord
    } catch (cause) {
      return { warning: `the backend's copy of the export was not expired: no record at ${path} (${String(cause)})` }
    }
    if ("problem" in record) return { warning: `the backend's copy of the export was not expired: ${record.problem}` }
    const api = yield* DeploymentApi
    const nowNs = BigInt(yield* Clock.currentTimeMillis) * 1_000_000n
    return yield* api.setExportExpiration(record.id, nowNs).pipe(
      Effect.as<ExpiryOutcome>({ expired: record.id }),
      Effect.catchAll((error) =>
        Effect.succeed<ExpiryOutcome>({
          warning: `the backend's copy of the export (snapshot ${record.id}) was not expired: ${error.message}`
        })
      )
    )
  })
  if ("expired" in outcome)
    yield* Effect.logInfo(`expired the backend's copy of the export (snapshot ${outcome.expired})`)
  else yield* Effect.logWarning(outcome.warning)
  yield* Effect.try(() => rmSync(path, { force: true })).pipe(Effect.ignore)
  return outcome
})
