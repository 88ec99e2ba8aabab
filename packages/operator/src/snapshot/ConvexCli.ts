/**
 * The pinned `convex` npm CLI as an Effect service. Every call is one invocation of its `bin/main.js` with the
 * Node running the operator, from a working directory whose package.json depends on `convex` (the CLI refuses to
 * run elsewhere), with an environment built on purpose rather than inherited:
 *
 * - `CONVEX_SELF_HOSTED_URL` / `CONVEX_SELF_HOSTED_ADMIN_KEY` select the backend (the key never goes on argv);
 * - `CI=1` keeps the CLI non-interactive and stops its crash reporter from phoning home;
 * - `HOME` is the working directory, so the CLI writes nothing outside it;
 * - no proxy variables, no `CONVEX_DEPLOYMENT`, no AI-agent markers (which would hide `env list` values).
 *
 * `layerLive` spawns the real binary; `layerTest` records each {@link Invocation} and answers from a script, so
 * tests see the exact argv, env and cwd.
 *
 * @module
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { Context, Data, Effect, Layer, Redacted, Ref } from "effect"

/** The backend the CLI talks to. */
export interface ConvexTarget {
  /** `CONVEX_SELF_HOSTED_URL`: the backend Service, e.g. `http://hello-backend.ns.svc:3210`. */
  readonly url: string
  /** `CONVEX_SELF_HOSTED_ADMIN_KEY`. */
  readonly adminKey: Redacted.Redacted<string>
}

/** One run of the CLI, exactly as it is spawned. */
export interface Invocation {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  /** Written to the CLI's standard input, then closed (empty when absent). */
  readonly stdin: string | undefined
}

/** What a finished run printed (standard error also went to the log as it came; the admin key is hidden in it). */
export interface CliOutput {
  readonly stdout: string
  readonly stderr: string
}

/** The CLI could not be started or exited non-zero. The message never holds the admin key. */
export class ConvexCliError extends Data.TaggedError("ConvexCliError")<{
  readonly message: string
  readonly exitCode: number | undefined
}> {}

export interface RunOptions {
  /** Written to standard input (how `env set NAME` reads a value without showing it on argv). */
  readonly stdin?: string
  /** Copy standard output to the log as it comes (progress); off when it carries secret values. */
  readonly echoStdout?: boolean
}

export interface ConvexCliService {
  /** Runs `convex <args…>`; fails with ConvexCliError on a non-zero exit. */
  readonly run: (args: ReadonlyArray<string>, options?: RunOptions) => Effect.Effect<CliOutput, ConvexCliError>
}

/** The CLI version bundled with the operator (the `convex` dependency, pinned exactly). */
export const bundledCli = (): { readonly version: string; readonly entry: string } => {
  const require = createRequire(import.meta.url)
  const manifest = require.resolve("convex/package.json")
  const { version } = require(manifest) as { version: string }
  return { version, entry: join(dirname(manifest), "bin", "main.js") }
}

/** Where and how the CLI runs. */
export interface CliSetup {
  /** The Node binary. */
  readonly node: string
  /** The CLI's `bin/main.js`. */
  readonly entry: string
  /** A directory whose package.json depends on convex. */
  readonly workDir: string
  /** Kept from the operator's environment: PATH only (the CLI spawns nothing else we need). */
  readonly path: string | undefined
}

/** The exact invocation of `convex <args…>` against `target`. */
export const invocation = (
  setup: CliSetup,
  target: ConvexTarget,
  args: ReadonlyArray<string>,
  stdin?: string
): Invocation => ({
  command: setup.node,
  args: [setup.entry, ...args],
  cwd: setup.workDir,
  env: {
    ...(setup.path !== undefined ? { PATH: setup.path } : {}),
    HOME: setup.workDir,
    CI: "1",
    NO_COLOR: "1",
    CONVEX_SELF_HOSTED_URL: target.url,
    CONVEX_SELF_HOSTED_ADMIN_KEY: Redacted.value(target.adminKey)
  },
  stdin
})

/** The package.json of the working directory: a project that depends on the bundled CLI. */
export const workDirManifest = (version: string): string =>
  `${JSON.stringify({ name: "convex-operator-snapshot", private: true, dependencies: { convex: version } }, null, 2)}\n`

/** A fresh working directory for the CLI, removed when the scope closes. */
export const makeWorkDir = (version: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = mkdtempSync(join(tmpdir(), "convex-operator-snapshot-"))
      writeFileSync(join(dir, "package.json"), workDirManifest(version))
      return dir
    }),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

const hide = (text: string, secret: string): string => (secret === "" ? text : text.split(secret).join("<admin key>"))

const tail = (text: string, lines: number): string => text.trimEnd().split("\n").slice(-lines).join("\n")

/** Spawns one invocation, streaming standard error (and optionally standard output) to ours. */
export const spawnInvocation = (call: Invocation, options: { readonly echoStdout: boolean }) =>
  Effect.async<{ readonly exitCode: number; readonly stdout: string; readonly stderr: string }, ConvexCliError>(
    (resume) => {
      const secret = call.env.CONVEX_SELF_HOSTED_ADMIN_KEY ?? ""
      const child = spawn(call.command, [...call.args], {
        cwd: call.cwd,
        env: call.env,
        stdio: ["pipe", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk
        if (options.echoStdout) process.stderr.write(hide(chunk, secret))
      })
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk
        process.stderr.write(hide(chunk, secret))
      })
      child.on("error", (error) =>
        resume(
          Effect.fail(
            new ConvexCliError({ message: `cannot start the convex CLI: ${error.message}`, exitCode: undefined })
          )
        )
      )
      child.on("close", (code, signal) =>
        resume(
          Effect.succeed({
            exitCode: code ?? (signal !== null ? 128 : 1),
            stdout,
            stderr: hide(stderr, secret)
          })
        )
      )
      child.stdin.on("error", () => {})
      child.stdin.end(call.stdin ?? "")
      return Effect.sync(() => {
        child.kill("SIGTERM")
      })
    }
  )

const describe = (args: ReadonlyArray<string>): string => `convex ${args.slice(0, 2).join(" ")}`

/** The CLI service over a spawn function (the real one, or a test's). */
export const makeConvexCli = (
  setup: CliSetup,
  target: ConvexTarget,
  spawnFn: (
    call: Invocation,
    options: { readonly echoStdout: boolean }
  ) => Effect.Effect<{ readonly exitCode: number; readonly stdout: string; readonly stderr: string }, ConvexCliError>
): ConvexCliService => ({
  run: (args, options = {}) =>
    Effect.gen(function* () {
      const call = invocation(setup, target, args, options.stdin)
      const result = yield* spawnFn(call, { echoStdout: options.echoStdout ?? false })
      if (result.exitCode !== 0) {
        const detail = tail(result.stderr, 5)
        return yield* new ConvexCliError({
          message: `${describe(args)} exited with ${result.exitCode}${detail === "" ? "" : `: ${detail}`}`,
          exitCode: result.exitCode
        })
      }
      return { stdout: result.stdout, stderr: result.stderr }
    })
})

/** A scripted answer of the test layer. */
export interface ScriptedResult {
  readonly exitCode?: number
  readonly stdout?: string
  readonly stderr?: string
}

/** The invocations a test layer received, in order. */
export class RecordedInvocations extends Context.Tag("convex-operator/snapshot/RecordedInvocations")<
  RecordedInvocations,
  Ref.Ref<ReadonlyArray<Invocation>>
>() {}

export class ConvexCli extends Context.Tag("convex-operator/snapshot/ConvexCli")<ConvexCli, ConvexCliService>() {
  /** The bundled CLI, run by this Node from a fresh working directory (removed with the layer). */
  static readonly layerLive = (target: ConvexTarget): Layer.Layer<ConvexCli> =>
    Layer.scoped(
      ConvexCli,
      Effect.gen(function* () {
        const cli = bundledCli()
        const workDir = yield* makeWorkDir(cli.version)
        return makeConvexCli(
          { node: process.execPath, entry: cli.entry, workDir, path: process.env.PATH },
          target,
          spawnInvocation
        )
      })
    )

  /** Records invocations (see {@link RecordedInvocations}) and answers with `answer` (default: success, no output). */
  static readonly layerTest = (
    target: ConvexTarget,
    answer: (call: Invocation) => ScriptedResult = () => ({}),
    setup: CliSetup = {
      node: "/usr/bin/node",
      entry: "/app/node_modules/convex/bin/main.js",
      workDir: "/work",
      path: "/usr/bin"
    }
  ): Layer.Layer<ConvexCli | RecordedInvocations> =>
    Layer.effectContext(
      Effect.gen(function* () {
        const recorded = yield* Ref.make<ReadonlyArray<Invocation>>([])
        const service = makeConvexCli(setup, target, (call) =>
          Ref.update(recorded, (calls) => [...calls, call]).pipe(
            Effect.as(answer(call)),
            Effect.map((result) => ({
              exitCode: result.exitCode ?? 0,
              stdout: result.stdout ?? "",
              stderr: result.stderr ?? ""
            }))
          )
        )
        return Context.make(ConvexCli, service).pipe(Context.add(RecordedInvocations, recorded))
      })
    )
}
