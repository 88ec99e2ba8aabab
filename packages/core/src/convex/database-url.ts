/**
 * Checks of the cluster URL that Convex reads from `POSTGRES_URL` or `MYSQL_URL`, made before the backend
 * starts so that a user sees a clear message instead of a crash loop.
 *
 * Convex wants the URL of the database *server*: `postgres://user:password@host:5432`. It picks the database
 * itself (the instance name with `-` turned into `_`, which must already exist), adds its own TLS query
 * parameters, and requires a username. So the URL must name no database. (Convex refuses a path only for
 * Postgres; with MySQL a path would make the connection open that database first, which at best does nothing, so
 * it is refused for both.)
 *
 * Query parameters reach the database driver, so only those that mean something there and that Convex does not
 * override are accepted (see `acceptedQueryParameters`); every other one is refused by name.
 *
 * The URL comes from a Secret: no message here contains the URL, its password, its username or its query.
 * URLs are only checked, never rewritten.
 *
 * @module
 */
import { Data, Either } from "effect"
import { databaseNameFor } from "./instance-name.js"

/** The engines that take a cluster URL (SQLite needs none). */
export type ClusterDatabaseEngine = "postgres" | "mysql"

/** The environment variable through which the backend reads the cluster URL of `engine`. */
export const databaseUrlVariable = (engine: ClusterDatabaseEngine): "POSTGRES_URL" | "MYSQL_URL" =>
  engine === "postgres" ? "POSTGRES_URL" : "MYSQL_URL"

/** The URL schemes each engine accepts (with the trailing `:`, as `URL.protocol` has them). */
export const databaseUrlSchemes: { readonly [E in ClusterDatabaseEngine]: ReadonlyArray<string> } = {
  postgres: ["postgres:", "postgresql:"],
  mysql: ["mysql:"]
}

const exampleUrl = (engine: ClusterDatabaseEngine): string =>
  engine === "postgres" ? "postgres://user:password@host:5432" : "mysql://user:password@host:3306"

// Schemes that are safe to name in a message (anything else might be a fragment of a mistyped credential).
const knownSchemes = new Set(["postgres", "postgresql", "mysql", "mariadb", "jdbc", "http", "https", "sqlite", "file"])

/** The kinds of problem a cluster URL can have. */
export type DatabaseUrlProblemKind =
  | "unparseable"
  | "scheme"
  | "host"
  | "username"
  | "database"
  | "query"
  | "overridden"
  | "fragment"

/** One problem with a cluster URL, with a user-facing message that names the fix and holds no credential. */
export interface DatabaseUrlProblem {
  readonly kind: DatabaseUrlProblemKind
  readonly message: string
}

/** What `databaseUrlProblems` checks. */
export interface DatabaseUrlCheck {
  /** The engine the URL is for. */
  readonly engine: ClusterDatabaseEngine
  /** The URL, as read from the Secret. */
  readonly url: string
  /** The instance's `INSTANCE_NAME`, used to name the database Convex will use in messages. */
  readonly instanceName?: string
  /** Whether the backend requires TLS (no `DO_NOT_REQUIRE_SSL`); default true. */
  readonly requireSSL?: boolean
}

/**
 * The query parameters Convex passes to each driver and does not override, with the values they accept.
 *
 * Postgres: Convex turns the URL into a `tokio_postgres::Config`, which refuses unknown parameters
 * (get-convex/convex-backend crates/db_connection/src/lib.rs, `persistence_seed`). With TLS required it appends
 * `sslmode=require` and keeps the last value of a repeated parameter (crates/clusters/src/lib.rs,
 * `adjust_postgres_url`), so `sslmode` decides only under `requireSSL: false`. tokio-postgres knows
 * `disable`, `prefer` (its default) and `require`; with `require` the certificate is verified against the system
 * roots plus `PG_CA_FILE` (crates/postgres/src/lib.rs, `create_pool`).
 *
 * MySQL: with TLS required Convex appends `require_ssl=true&verify_ca=true` (crates/clusters/src/lib.rs); without
 * it, `MYSQL_CA_FILE` turns TLS on unless the URL says `require_ssl=false` (crates/mysql/src/connection.rs).
 */
export const acceptedQueryParameters: {
  readonly [E in ClusterDatabaseEngine]: Readonly<Record<string, ReadonlyArray<string>>>
} = {
  postgres: { sslmode: ["disable", "prefer", "require"] },
  mysql: { require_ssl: ["true", "false"], verify_ca: ["true", "false"] }
}

/** The value Convex itself sets for a parameter when TLS is required (the URL's value is then overridden). */
const requiredTlsValues: { readonly [E in ClusterDatabaseEngine]: Readonly<Record<string, string>> } = {
  postgres: { sslmode: "require" },
  mysql: { require_ssl: "true", verify_ca: "true" }
}

// A parameter name is repeated in a message only when it looks like one (a mistyped password may land in the query).
const nameable = (name: string): boolean => /^[A-Za-z_][A-Za-z0-9_-]{0,39}$/.test(name)

const queryProblems = (
  engine: ClusterDatabaseEngine,
  variable: string,
  query: string,
  requireSSL: boolean
): ReadonlyArray<DatabaseUrlProblem> => {
  const accepted = acceptedQueryParameters[engine]
  const list = Object.keys(accepted).join(", ")
  const problems: Array<DatabaseUrlProblem> = []
  for (const [name, value] of new URLSearchParams(query)) {
    const values = Object.hasOwn(accepted, name) ? accepted[name] : undefined
    if (values === undefined) {
      const what = nameable(name) ? `the query parameter ${JSON.stringify(name)}` : "a query parameter"
      problems.push({
        kind: "query",
        message: `${variable} has ${what}, which Convex does not pass to the ${engine} driver: remove it (accepted: ${list})`
      })
    } else if (!values.includes(value)) {
      problems.push({
        kind: "query",
        message: `${variable} query parameter ${JSON.stringify(name)} must be one of ${values.join(", ")}`
      })
    } else if (
      requireSSL &&
      requiredTlsValues[engine][name] !== undefined &&
      requiredTlsValues[engine][name] !== value
    ) {
      problems.push({
        kind: "overridden",
        message: `${variable} sets ${name}=${value}, but Convex sets ${name}=${requiredTlsValues[engine][name]} while TLS is required: set spec.backend.db.requireSSL to false for ${name}=${value} to take effect`
      })
    }
  }
  return problems
}

/**
 * Every problem that stops Convex from using `url` as the cluster URL of `engine`; empty when it is usable.
 * The messages start with the variable name (`POSTGRES_URL …`) and never include the URL or its credentials.
 */
export const databaseUrlProblems = (check: DatabaseUrlCheck): ReadonlyArray<DatabaseUrlProblem> => {
  const { engine, instanceName } = check
  const variable = databaseUrlVariable(engine)
  const example = exampleUrl(engine)
  let url: URL
  try {
    url = new URL(check.url)
  } catch {
    return [
      {
        kind: "unparseable",
        message:
          `${variable} is not a valid URL: write it as ${example}, ` +
          "percent-encoding any of : / @ ? # % in the user name or password"
      }
    ]
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase()
  if (!databaseUrlSchemes[engine].includes(url.protocol.toLowerCase())) {
    const named = knownSchemes.has(scheme) ? `the scheme ${scheme}:` : "an unsupported scheme"
    const fix =
      engine === "postgres" && scheme === "mysql"
        ? "set the database engine to mysql, or give a postgres:// URL"
        : engine === "mysql" && (scheme === "postgres" || scheme === "postgresql")
          ? "set the database engine to postgres, or give a mysql:// URL"
          : scheme === "jdbc"
            ? `drop the jdbc: prefix and write it as ${example}`
            : `write it as ${example}`
    // The other checks mean little for a URL of another kind, so this is the only problem reported.
    return [{ kind: "scheme", message: `${variable} uses ${named}, not ${engine}: ${fix}` }]
  }
  const problems: Array<DatabaseUrlProblem> = []
  if (url.hostname === "") {
    problems.push({ kind: "host", message: `${variable} names no host: write it as ${example}` })
  }
  if (url.username === "") {
    problems.push({
      kind: "username",
      message: `${variable} has no user name, which Convex requires: write it as ${example}`
    })
  }
  if (url.pathname !== "" && url.pathname !== "/") {
    const uses =
      instanceName === undefined
        ? "Convex uses the database named like INSTANCE_NAME with '-' turned into '_'"
        : `Convex uses the database ${JSON.stringify(databaseNameFor(instanceName))}`
    problems.push({
      kind: "database",
      message: `${variable} ${describePath(url.pathname)}: remove the path; ${uses}, which must already exist`
    })
  }
  problems.push(...queryProblems(engine, variable, url.search, check.requireSSL ?? true))
  if (url.hash !== "" || check.url.includes("#")) {
    problems.push({
      kind: "fragment",
      message: `${variable} has a '#' part: remove it, or percent-encode '#' as %23 if it belongs to the password`
    })
  }
  return problems
}

// Name the database only when it looks like a database name: an unencoded '@' or '/' in a password moves part
// of the password into the path, and that must not be repeated.
const describePath = (pathname: string): string => {
  let name: string
  try {
    name = decodeURIComponent(pathname.slice(1))
  } catch {
    name = ""
  }
  return /^[A-Za-z0-9_$-]{1,64}$/.test(name)
    ? `names database ${JSON.stringify(name)}`
    : "has a path (if the password contains '/' or '@', percent-encode them as %2F and %40)"
}

/** The cluster URL cannot be used; `problems` lists every reason. */
export class InvalidDatabaseUrl extends Data.TaggedError("InvalidDatabaseUrl")<{
  readonly engine: ClusterDatabaseEngine
  readonly problems: ReadonlyArray<DatabaseUrlProblem>
}> {
  override get message(): string {
    return this.problems.map((problem) => problem.message).join("; ")
  }
}

/** Succeeds when Convex can use `url` as the cluster URL of `engine`, or fails with every problem. */
export const validateDatabaseUrl = (check: DatabaseUrlCheck): Either.Either<void, InvalidDatabaseUrl> => {
  const problems = databaseUrlProblems(check)
  return problems.length === 0 ? Either.void : Either.left(new InvalidDatabaseUrl({ engine: check.engine, problems }))
}
