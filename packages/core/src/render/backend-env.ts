/**
 * The backend's environment, split in two: non-secret variables for the backend ConfigMap (consumed with
 * `envFrom`), and variables that come from Secrets (`secretKeyRef`) plus the user's own `backend.env`.
 * Only variables the backend really reads are set (see CONVEX.md), and switches that Convex turns on by
 * presence (`DO_NOT_REQUIRE_SSL`, `DISABLE_BEACON`, `REDACT_LOGS_TO_CLIENT`) are set only when on.
 *
 * @module
 */
import type { ConvexInstance, EnvVar } from "../api/index.js"
import { databaseUrlVariable, instanceNameForDatabase } from "../convex/index.js"
import { caEnvironment } from "./ca-bundles.js"
import { childNames, secretKeys } from "./names.js"
import type { ObservedIndex } from "./observed.js"
import { s3Wiring } from "./s3.js"
import type { InstanceUrls } from "./urls.js"

/**
 * `MAX_EXPIRED_SNAPSHOT_AGE_DAYS`: how many days after its expiry the backend purges a snapshot export (Convex's
 * default 30; `crates/common/src/knobs.rs`, whole days, used by `cleanup_expired_exports` in
 * `crates/application/src/system_table_cleanup/mod.rs`, which runs about every 30 minutes). Backup Jobs expire
 * their export once the ZIP is stored, so 0 frees that copy at the next cleanup. `backend.env` overrides it.
 */
export const expiredSnapshotAgeDays = "0"

/** The backend's environment. */
export interface BackendEnvironment {
  /** The data of the backend ConfigMap: never a secret value. */
  readonly config: Readonly<Record<string, string>>
  /** The container's `env`: Secret references first, then the user's variables (later entries win). */
  readonly env: ReadonlyArray<EnvVar>
}

/** The backend's `INSTANCE_NAME`: `databaseName` with `_` → `-`, or the ConvexInstance's name. */
export const convexInstanceName = (instance: ConvexInstance): string => {
  const databaseName = instance.spec.backend.db.databaseName
  return databaseName !== undefined ? instanceNameForDatabase(databaseName) : (instance.metadata.name ?? "")
}

/**
 * `REDACT_LOGS_TO_CLIENT`: as `backend.logging.redactLogsToClient` says, else on for `environment: prod`. Convex
 * advises it for production deployments, so that server-side stack traces do not reach clients, and off in
 * development, where they help (get-convex/convex-backend `crates/local_backend/src/config.rs`).
 */
export const redactLogsToClient = (instance: ConvexInstance): boolean =>
  instance.spec.backend.logging.redactLogsToClient ?? instance.spec.environment === "prod"

/** `DOCUMENT_RETENTION_DELAY` of Convex's docker-compose.yml: 2 days, in seconds (the binary's default is 14 days). */
export const documentRetentionDelaySeconds = 2 * 24 * 60 * 60

/**
 * Settings Convex's own self-hosted docker-compose.yml gives the backend over the binary's defaults
 * (get-convex/convex-backend `self-hosted/docker/docker-compose.yml`, `crates/common/src/knobs.rs`): no `/metrics`
 * unless `backend.metrics.enabled`, and 2 days of document history. An entry of `backend.env` with the same name
 * wins (container `env` overrides `envFrom`).
 */
const productionDefaults = (instance: ConvexInstance): Record<string, string> => ({
  DOCUMENT_RETENTION_DELAY: String(documentRetentionDelaySeconds),
  ...(instance.spec.backend.metrics.enabled ? {} : { DISABLE_METRICS_ENDPOINT: "true" })
})

/** Merges variables by name: a later entry replaces an earlier one in its place (SSA keys `env` by name). */
export const mergeEnv = (...lists: ReadonlyArray<ReadonlyArray<EnvVar>>): ReadonlyArray<EnvVar> => {
  const byName = new Map<string, EnvVar>()
  for (const list of lists) for (const entry of list) byName.set(entry.name, entry)
  return [...byName.values()]
}

/** The backend environment of `instance`. */
export const backendEnvironment = (
  instance: ConvexInstance,
  urls: InstanceUrls,
  observed: ObservedIndex
): BackendEnvironment => {
  const { backend } = instance.spec
  const names = childNames(instance.metadata.name ?? "")
  const s3 = s3Wiring(backend.s3, observed)
  const config: Record<string, string> = {
    INSTANCE_NAME: convexInstanceName(instance),
    CONVEX_CLOUD_ORIGIN: urls.cloudOrigin,
    CONVEX_SITE_ORIGIN: urls.siteOrigin,
    MAX_EXPIRED_SNAPSHOT_AGE_DAYS: expiredSnapshotAgeDays
  }
  if (backend.db.engine !== "sqlite" && !backend.db.requireSSL) config.DO_NOT_REQUIRE_SSL = "true"
  if (backend.telemetry.disableBeacon) config.DISABLE_BEACON = "true"
  if (redactLogsToClient(instance)) config.REDACT_LOGS_TO_CLIENT = "true"
  Object.assign(config, productionDefaults(instance))
  Object.assign(config, s3.config, caEnvironment(instance))

  const secretEnv: Array<EnvVar> = [
    { name: "INSTANCE_SECRET", valueFrom: { secretKeyRef: { name: names.secrets, key: secretKeys.instanceSecret } } }
  ]
  const { db } = backend
  if (db.engine !== "sqlite" && db.secretRef !== undefined && db.urlKey !== undefined) {
    secretEnv.push({
      name: databaseUrlVariable(db.engine),
      valueFrom: { secretKeyRef: { name: db.secretRef, key: db.urlKey } }
    })
  }
  return { config: sortKeys(config), env: mergeEnv(secretEnv, s3.env, backend.env ?? []) }
}

/** A copy of `record` with its keys in sorted order, so rendering is independent of insertion order. */
export const sortKeys = <V>(record: Readonly<Record<string, V>>): Record<string, V> =>
  Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
