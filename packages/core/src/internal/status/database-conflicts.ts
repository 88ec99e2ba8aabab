/**
 * Two instances on one database. With Postgres or MySQL, Convex opens the database named after `INSTANCE_NAME`
 * (`-` → `_`) on the server the URL names, and holds its writer lease there (get-convex/convex-backend
 * crates/clusters/src/lib.rs, `persistence_args_from_cluster_url`). `INSTANCE_NAME` defaults to the
 * ConvexInstance's name, so two instances called `app` in two namespaces that share a database server would open
 * the same database and take the lease from each other.
 *
 * The operator sees every instance it manages. Among instances that claim the same database on the same server,
 * the oldest (by `creationTimestamp`, then namespace and name) keeps it and each other one is held: its backend is
 * not rendered, and its status names the holder and the field that resolves it.
 *
 * Pure: the shell reads the URLs from the instances' Secrets and hands over the claims.
 *
 * @module
 */
import type { ClusterDatabaseEngine } from "../../convex/database-url.js"

/** One instance's claim on a database: the server its URL names and the database Convex derives. */
export interface DatabaseClaim {
  readonly namespace: string
  readonly name: string
  /** RFC 3339 creation time; a claim without one sorts last. */
  readonly creationTimestamp?: string | undefined
  readonly engine: ClusterDatabaseEngine
  /** `host:port`, lower-case host, with the engine's default port when the URL names none. */
  readonly server: string
  /** The database Convex opens (the instance name with `-` turned into `_`). */
  readonly database: string
}

/** The instance that keeps a database another instance also claims. */
export interface DatabaseHolder {
  readonly namespace: string
  readonly name: string
  readonly database: string
}

const defaultPorts: { readonly [E in ClusterDatabaseEngine]: string } = { postgres: "5432", mysql: "3306" }

/**
 * The server a cluster URL names, as `host:port` (host lower-cased, default port filled in), or `undefined` when
 * the URL does not parse or names no host. The URL is never returned or logged.
 */
export const databaseServer = (engine: ClusterDatabaseEngine, url: string): string | undefined => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return undefined
  }
  if (parsed.hostname === "") return undefined
  return `${parsed.hostname.toLowerCase()}:${parsed.port === "" ? defaultPorts[engine] : parsed.port}`
}

const key = (claim: { readonly namespace: string; readonly name: string }) => `${claim.namespace}/${claim.name}`

/** Earlier first: creation time, then namespace, then name. */
const older = (a: DatabaseClaim, b: DatabaseClaim): number => {
  const at = a.creationTimestamp ?? "\uffff"
  const bt = b.creationTimestamp ?? "\uffff"
  if (at !== bt) return at < bt ? -1 : 1
  const ak = key(a)
  const bk = key(b)
  return ak < bk ? -1 : ak > bk ? 1 : 0
}

/**
 * For every instance that must be held, the instance that keeps its database: the oldest claim of each
 * (engine, server, database) keeps it, every other claim of it is held. Keys are `namespace/name`.
 */
export const databaseConflicts = (claims: ReadonlyArray<DatabaseClaim>): ReadonlyMap<string, DatabaseHolder> => {
  const groups = new Map<string, Array<DatabaseClaim>>()
  for (const claim of claims) {
    const group = `${claim.engine}|${claim.server}|${claim.database}`
    const members = groups.get(group) ?? []
    members.push(claim)
    groups.set(group, members)
  }
  const held = new Map<string, DatabaseHolder>()
  for (const members of groups.values()) {
    if (members.length < 2) continue
    const [first, ...rest] = [...members].sort(older)
    if (first === undefined) continue
    for (const claim of rest) {
      held.set(key(claim), { namespace: first.namespace, name: first.name, database: first.database })
    }
  }
  return held
}

/** The field that gives an instance a database of its own. */
export const databaseNameField = "spec.backend.db.databaseName"

/** The problem of a held instance: names the holder and the field that resolves it, never the URL. */
export const databaseInUseProblem = (holder: DatabaseHolder): { readonly field: string; readonly message: string } => ({
  field: databaseNameField,
  message:
    `the database "${holder.database}" on this server is already used by ConvexInstance ${holder.namespace}/${holder.name} ` +
    "(created earlier); two backends on one database take its lease from each other, so this backend is not started: " +
    `set ${databaseNameField} to a database of its own (which must exist), or point the URL at another server`
})
