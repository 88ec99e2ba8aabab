/**
 * What the snapshot Jobs do, over the {@link ConvexCli} service: export a ZIP (with file storage), import one with
 * `--replace-all`, and save/restore the deployment's environment variables (which a ZIP does not hold) to and
 * from a Secret. The variables are read as JSON from the backend ({@link DeploymentApi}), not from the text of
 * `convex env list`: the CLI's `.env` lines are not always readable back (see {@link listEnv}).
 *
 * @module
 */
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { KubeClient, type KubeObject, Resource } from "@convex-operator/k8s"
import { Data, Effect } from "effect"
import { ConvexCli, type ConvexCliError } from "./ConvexCli.js"
import { DeploymentApi, DeploymentApiError } from "./DeploymentApi.js"

/** A snapshot step that cannot run (a missing file, a bad path), with the fix. */
export class SnapshotError extends Data.TaggedError("SnapshotError")<{ readonly message: string }> {}

/** The argv of `convex export`. */
export const exportArgs = (path: string, includeFileStorage: boolean): ReadonlyArray<string> => [
  "export",
  "--path",
  path,
  ...(includeFileStorage ? ["--include-file-storage"] : [])
]

/** The argv of `convex import` (`-y`: without it the CLI crashes without a terminal). */
export const importArgs = (path: string, replaceAll: boolean): ReadonlyArray<string> => [
  "import",
  path,
  ...(replaceAll ? ["--replace-all"] : []),
  "-y"
]

/** `env set NAME`: the value comes on standard input, never on argv. */
export const envSetArgs = (name: string): ReadonlyArray<string> => ["env", "set", name]

/** The temporary file an export writes before it is renamed into place (the CLI wants an unoccupied .zip). */
export const partialPath = (path: string): string => join(dirname(path), `.partial-${basename(path)}`)

/**
 * Exports to `path` (a `.zip`). The CLI writes a temporary file that is renamed into place only when complete, so
 * a retried Job never sees a half-written snapshot, and a rerun replaces an older snapshot with a fresh one.
 */
export const exportSnapshot = Effect.fn("snapshot.export")(function* (options: {
  readonly path: string
  readonly includeFileStorage: boolean
}) {
  if (!options.path.endsWith(".zip")) {
    return yield* new SnapshotError({ message: `--path ${options.path}: give a file name ending in .zip` })
  }
  const partial = partialPath(options.path)
  yield* Effect.try({
    try: () => {
      mkdirSync(dirname(options.path), { recursive: true })
      rmSync(partial, { force: true })
    },
    catch: (cause) => new SnapshotError({ message: `cannot prepare ${dirname(options.path)}: ${String(cause)}` })
  })
  yield* Effect.logInfo(`exporting the deployment to ${options.path}`)
  const cli = yield* ConvexCli
  const output = yield* cli.run(exportArgs(partial, options.includeFileStorage), { echoStdout: true })
  yield* Effect.try({
    try: () => renameSync(partial, options.path),
    catch: (cause) => new SnapshotError({ message: `the export finished but ${partial} is missing: ${String(cause)}` })
  })
  yield* Effect.logInfo(`export complete: ${options.path}`)
  // What the CLI printed on standard error names the snapshot it downloaded (see export-expiry.ts).
  return { cliStderr: output.stderr }
})

/** Imports the ZIP at `path`, replacing every table when `replaceAll`. */
export const importSnapshot = Effect.fn("snapshot.import")(function* (options: {
  readonly path: string
  readonly replaceAll: boolean
}) {
  if (!existsSync(options.path)) {
    return yield* new SnapshotError({
      message: `no snapshot at ${options.path}: the export Job of this upgrade writes it; check the snapshot volume`
    })
  }
  yield* Effect.logInfo(`importing ${options.path}${options.replaceAll ? " (replacing all data)" : ""}`)
  const cli = yield* ConvexCli
  yield* cli.run(importArgs(options.path, options.replaceAll), { echoStdout: true })
  yield* Effect.logInfo("import complete")
})

/** One variable of the deployment. */
export interface EnvVariable {
  readonly name: string
  readonly value: string
}

/** The query behind `convex env list` (npm-packages/system-udfs/convex/_system/cli/queryEnvironmentVariables.ts). */
export const envListQuery = "_system/cli/queryEnvironmentVariables:default"

/** The variables in the query's value: documents of `_environment_variables`, each with `name` and `value`. */
export const decodeEnvList = (value: unknown): ReadonlyArray<EnvVariable> | undefined => {
  if (!Array.isArray(value)) return undefined
  const out: Array<EnvVariable> = []
  for (const entry of value) {
    const { name, value: text } = (entry ?? {}) as { name?: unknown; value?: unknown }
    if (typeof name !== "string" || typeof text !== "string") return undefined
    out.push({ name, value: text })
  }
  return out
}

/**
 * The deployment's environment variables, read as JSON with the query `convex env list` runs. Not the CLI's text:
 * it prints `NAME=value` lines quoted by its `formatEnvValueForDotfile` only in some cases, so one printout can
 * come from two different sets of variables: `A` = `'x` with `B` = `y'` prints the same two lines as `A` alone
 * holding `x`, a newline and `B=y`. Values are
 * never logged.
 */
export const listEnv: Effect.Effect<ReadonlyArray<EnvVariable>, DeploymentApiError, DeploymentApi> = Effect.gen(
  function* () {
    const api = yield* DeploymentApi
    const value = yield* api.query(envListQuery)
    const variables = decodeEnvList(value)
    if (variables === undefined) {
      return yield* new DeploymentApiError({
        message: `query ${envListQuery}: the answer is not a list of {name, value} documents`
      })
    }
    return variables
  }
).pipe(Effect.withSpan("snapshot.listEnv"))

/** Sets one variable; the value goes through standard input (a trailing newline, which the CLI strips). */
export const setEnv = (variable: EnvVariable): Effect.Effect<void, ConvexCliError, ConvexCli> =>
  Effect.flatMap(ConvexCli, (cli) => cli.run(envSetArgs(variable.name), { stdin: `${variable.value}\n` })).pipe(
    Effect.asVoid
  )

/** Where saved variables go. */
export interface EnvSecret {
  readonly namespace: string
  readonly name: string
}

const fieldManager = "convex-operator-snapshot"

/** Saves every variable to the Secret (server-side apply: a variable gone since the last save leaves it). */
export const saveEnv = Effect.fn("snapshot.envSave")(function* (secret: EnvSecret) {
  const variables = yield* listEnv
  const kube = yield* KubeClient
  const data: Record<string, string> = {}
  for (const { name, value } of variables) data[name] = Buffer.from(value, "utf8").toString("base64")
  yield* kube.apply(
    Resource.Secret,
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: secret.name,
        namespace: secret.namespace,
        labels: { "app.kubernetes.io/managed-by": "convex-operator", "app.kubernetes.io/component": "snapshot" }
      },
      type: "Opaque",
      data
    } as KubeObject,
    { fieldManager, force: true }
  )
  yield* Effect.logInfo(
    `saved ${variables.length} environment variable(s) to Secret ${secret.namespace}/${secret.name}: ${variables.map((v) => v.name).join(", ")}`
  )
  return variables.length
})

/** Sets every variable of the Secret on the deployment, one `env set` each. */
export const restoreEnv = Effect.fn("snapshot.envRestore")(function* (secret: EnvSecret) {
  const kube = yield* KubeClient
  const object = yield* kube.get(Resource.Secret, secret.name, { namespace: secret.namespace }).pipe(
    Effect.catchTag("NotFound", () =>
      Effect.fail(
        new SnapshotError({
          message: `Secret ${secret.namespace}/${secret.name} does not exist: run snapshot env-save first`
        })
      )
    )
  )
  const data = ((object as { data?: Record<string, string> }).data ?? {}) as Record<string, string>
  const names = Object.keys(data).sort()
  for (const name of names) {
    yield* setEnv({ name, value: Buffer.from(data[name] ?? "", "base64").toString("utf8") })
    yield* Effect.logInfo(`restored ${name}`)
  }
  yield* Effect.logInfo(
    `restored ${names.length} environment variable(s) from Secret ${secret.namespace}/${secret.name}`
  )
  return names.length
})
