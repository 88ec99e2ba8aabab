/**
 * Which older instance keeps the database an instance claims (see `@convex-operator/core`'s
 * `internal/status/database-conflicts.ts` for the rule). The operator's instance Store holds every instance it manages, and
 * each one's database URL Secret is watched by name (`references.ts`), so the claims are read from memory: the raw
 * fields (engine, Secret, key, database name) without decoding, the server from the URL (never kept or logged).
 *
 * An instance whose URL Secret has not been seen yet makes no claim; once it is seen the instances it holds are
 * woken (`isHeldByDatabase` tells the cache which those are).
 *
 * @module
 */
import { type ClusterDatabaseEngine, type DatabaseHolder, databaseNameFor } from "@convex-operator/core"
import {
  type DatabaseClaim,
  databaseConflicts,
  databaseNameField,
  databaseServer
} from "@convex-operator/core/internal"
import type { KubeObject } from "@convex-operator/k8s"

const record = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {}
const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined)

/** The value of `key` in a Secret (base64 `data`, or `stringData`). */
const secretValue = (secret: KubeObject | undefined, key: string): string | undefined => {
  const encoded = text(record(secret?.data)[key])
  return encoded !== undefined ? Buffer.from(encoded, "base64").toString("utf8") : text(record(secret?.stringData)[key])
}

/** The database an instance object's backend opens (`databaseName`, or its name with `-` turned into `_`). */
const databaseOf = (object: KubeObject): string =>
  text(record(record(record(object.spec).backend).db).databaseName) ?? databaseNameFor(object.metadata.name ?? "")

/** Whether an instance object's backend is on a cluster database (Postgres or MySQL), whose name it may share. */
const onClusterDatabase = (object: KubeObject): boolean => {
  const engine = text(record(record(record(object.spec).backend).db).engine)
  return engine === "postgres" || engine === "mysql"
}

/**
 * Index values of the instance Store: the database an instance on Postgres or MySQL opens (none for SQLite), so
 * that `databaseHolderOf` reads only the instances of the same database name, not every instance.
 */
export const databaseIndex = (object: KubeObject): ReadonlyArray<string> =>
  onClusterDatabase(object) ? [databaseOf(object)] : []

/** The one value of the `heldByDatabase` index. */
export const heldValue = "held"

/**
 * Index values of the instance Store: `held` for an instance held for its database (`isHeldByDatabase`), so that
 * the instances to wake on a change are found without looking at every instance.
 */
export const heldIndex = (object: KubeObject): ReadonlyArray<string> => (isHeldByDatabase(object) ? [heldValue] : [])

/** The claim of one instance object, when it uses Postgres or MySQL and its URL is known. */
export const databaseClaimOf = (
  object: KubeObject,
  secret: (namespace: string, name: string) => KubeObject | undefined
): DatabaseClaim | undefined => {
  const db = record(record(record(object.spec).backend).db)
  const engine = text(db.engine)
  const secretRef = text(db.secretRef)
  const urlKey = text(db.urlKey)
  if ((engine !== "postgres" && engine !== "mysql") || secretRef === undefined || urlKey === undefined) return undefined
  const namespace = object.metadata.namespace ?? "default"
  const name = object.metadata.name ?? ""
  const url = secretValue(secret(namespace, secretRef), urlKey)
  const server = url === undefined ? undefined : databaseServer(engine as ClusterDatabaseEngine, url)
  if (server === undefined) return undefined
  return {
    namespace,
    name,
    creationTimestamp: object.metadata.creationTimestamp,
    engine,
    server,
    database: databaseOf(object)
  }
}

/**
 * The older instance that keeps the database `self` claims, if another one claims it too. `ofDatabase` gives the
 * instances that open a database of a name (the `database` index, `databaseIndex`).
 */
export const databaseHolderOf = (
  self: KubeObject,
  ofDatabase: (database: string) => ReadonlyArray<KubeObject>,
  secret: (namespace: string, name: string) => KubeObject | undefined
): DatabaseHolder | undefined => {
  const own = databaseClaimOf(self, secret)
  if (own === undefined) return undefined
  const claims: Array<DatabaseClaim> = [own]
  for (const object of ofDatabase(own.database)) {
    if (object.metadata.uid !== undefined && object.metadata.uid === self.metadata.uid) continue
    if (object.metadata.namespace === self.metadata.namespace && object.metadata.name === self.metadata.name) continue
    if (object.metadata.deletionTimestamp !== undefined) continue
    const claim = databaseClaimOf(object, secret)
    if (claim !== undefined && claim.server === own.server && claim.database === own.database) claims.push(claim)
  }
  if (claims.length < 2) return undefined
  return databaseConflicts(claims).get(`${own.namespace}/${own.name}`)
}

/** Whether an instance's status says it is held because another instance keeps its database. */
export const isHeldByDatabase = (object: KubeObject): boolean => {
  const conditions = record(object.status).conditions
  if (!Array.isArray(conditions)) return false
  const ready = conditions.find((condition) => record(condition).type === "Ready")
  return text(record(ready).message)?.includes(`${databaseNameField}: `) === true
}
