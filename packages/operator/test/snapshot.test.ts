import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { snapshotArgs, snapshotExportArgs, snapshotImportArgs } from "@convex-operator/core/internal"
import { KubeClient, Resource } from "@convex-operator/k8s"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { cli } from "convex-operator"
import { Effect, Exit, Layer, Redacted, Ref, TestClock } from "effect"
import {
  bundledCli,
  ConvexCli,
  DeploymentApi,
  decodeEnvList,
  decodeInt64,
  expireRecordedExport,
  type Invocation,
  identifyExport,
  invocation,
  partialPath,
  printedExportTs,
  RecordedInvocations,
  restoreEnv,
  type ScriptedResult,
  saveEnv,
  workDirManifest
} from "../src/snapshot/index.js"
import { exportSnapshot, importSnapshot, listEnv } from "../src/snapshot/operations.js"

const adminKey = "hello|01deadbeef"
const target = { url: "http://hello-backend.apps.svc:3210", adminKey: Redacted.make(adminKey) }
const setup = {
  node: "/usr/bin/node",
  entry: "/app/node_modules/convex/bin/main.js",
  workDir: "/work",
  path: "/usr/bin"
}

const expectedEnv = {
  PATH: "/usr/bin",
  HOME: "/work",
  CI: "1",
  NO_COLOR: "1",
  CONVEX_SELF_HOSTED_URL: "http://hello-backend.apps.svc:3210",
  CONVEX_SELF_HOSTED_ADMIN_KEY: adminKey
}

const recorded = Effect.flatMap(RecordedInvocations, Ref.get)

const withCli = (answer?: (call: Invocation) => ScriptedResult) => ConvexCli.layerTest(target, answer, setup)

/** A backend whose system queries answer `values` by path (and whose other routes must not be called). */
const backendAnswering = (values: Readonly<Record<string, unknown>>) =>
  Layer.succeed(DeploymentApi, {
    query: (path) => Effect.succeed(values[path]),
    setExportExpiration: () => Effect.die("not expected")
  })

const tempDir = () => mkdtempSync(join(tmpdir(), "convex-operator-snapshot-test-"))

describe("ConvexCli", () => {
  it("runs the bundled CLI with this Node, from the work dir, with the backend in a built environment", () => {
    const call = invocation(setup, target, ["env", "list"])
    expect(call).toEqual({
      command: "/usr/bin/node",
      args: ["/app/node_modules/convex/bin/main.js", "env", "list"],
      cwd: "/work",
      env: expectedEnv,
      stdin: undefined
    })
  })

  it("bundles convex 1.48.0 (the last release that runs on Node 20) and writes a work dir depending on it", () => {
    const bundled = bundledCli()
    expect(bundled.version).toBe("1.48.0")
    expect(existsSync(bundled.entry)).toBe(true)
    expect(JSON.parse(workDirManifest(bundled.version))).toMatchObject({ dependencies: { convex: "1.48.0" } })
  })

  it.effect("fails with the exit code and the last lines of standard error, without the admin key", () =>
    Effect.gen(function* () {
      const cli = yield* ConvexCli
      const exit = yield* cli.run(["export", "--path", "/x.zip"]).pipe(Effect.exit)
      expect(exit).toMatchObject({ _tag: "Failure" })
      const error = Exit.isFailure(exit) ? String(exit.cause) : ""
      expect(error).toContain("convex export --path exited with 1: ✖ Failed to export")
      expect(error).not.toContain(adminKey)
    }).pipe(Effect.provide(withCli(() => ({ exitCode: 1, stderr: "✖ Failed to export\n" }))))
  )
})

describe("snapshot steps", () => {
  it.effect("export writes a partial ZIP with file storage, then renames it into place", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const path = join(dir, "upgrade-abc.zip")
      writeFileSync(path, "an older snapshot")
      const calls = yield* Effect.gen(function* () {
        yield* exportSnapshot({ path, includeFileStorage: true })
        return yield* recorded
      }).pipe(
        Effect.provide(
          withCli((call) => {
            writeFileSync(call.args[3] ?? "", "zip")
            return {}
          })
        )
      )
      expect(calls.map((c) => c.args.slice(1))).toEqual([
        ["export", "--path", partialPath(path), "--include-file-storage"]
      ])
      expect(calls[0]?.env).toEqual(expectedEnv)
      expect(readFileSync(path, "utf8")).toBe("zip")
      expect(existsSync(partialPath(path))).toBe(false)
    })
  )

  it.effect("a failed export leaves the previous file alone and says why", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const path = join(dir, "upgrade-abc.zip")
      const exit = yield* exportSnapshot({ path, includeFileStorage: true }).pipe(
        Effect.provide(withCli(() => ({ exitCode: 1, stderr: "Error: Unable to connect" }))),
        Effect.exit
      )
      expect(String(Exit.isFailure(exit) && exit.cause)).toContain("Unable to connect")
      expect(existsSync(path)).toBe(false)
    })
  )

  it.effect("the export argv", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const path = join(dir, "s.zip")
      const calls = yield* Effect.gen(function* () {
        yield* exportSnapshot({ path, includeFileStorage: false }).pipe(Effect.ignore)
        return yield* recorded
      }).pipe(Effect.provide(withCli()))
      expect(calls.map((c) => c.args.slice(1))).toEqual([["export", "--path", partialPath(path)]])
    })
  )

  it.effect("import runs `import <zip> --replace-all -y` and refuses a missing file", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const path = join(dir, "upgrade-abc.zip")
      const missing = yield* importSnapshot({ path, replaceAll: true }).pipe(Effect.flip)
      expect(missing.message).toContain(`no snapshot at ${path}`)
      writeFileSync(path, "zip")
      yield* importSnapshot({ path, replaceAll: true })
      const calls = yield* recorded
      expect(calls.map((c) => c.args.slice(1))).toEqual([["import", path, "--replace-all", "-y"]])
      expect(calls[0]?.cwd).toBe("/work")
    }).pipe(Effect.provide(withCli()))
  )

  it("reads variables from the documents the env list query returns, and nothing else", () => {
    const documents = [
      { _id: "k1", _creationTime: 1.7e12, name: "A", value: "'x" },
      { _id: "k2", _creationTime: 1.7e12, name: "B", value: "y'\n#z" }
    ]
    expect(decodeEnvList(documents)).toEqual([
      { name: "A", value: "'x" },
      { name: "B", value: "y'\n#z" }
    ])
    expect(decodeEnvList([])).toEqual([])
    expect(decodeEnvList(null)).toBeUndefined()
    expect(decodeEnvList([{ name: "A" }])).toBeUndefined()
  })

  const envDocuments = {
    "_system/cli/queryEnvironmentVariables:default": [
      { _id: "k1", name: "API_KEY", value: "s3cret" },
      { _id: "k2", name: "MULTI", value: "a\nb" }
    ]
  }
  const memory = (answer: (call: Invocation) => ScriptedResult) =>
    Layer.mergeAll(withCli(answer), KubeClient.layerMemory(), backendAnswering(envDocuments))

  it.effect("env-save reads the variables with their values from the backend and applies a Secret of them", () =>
    Effect.gen(function* () {
      const saved = yield* saveEnv({ namespace: "apps", name: "hello-env" })
      expect(saved).toBe(2)
      // No CLI run: `env list` prints text that does not always read back (see listEnv).
      expect(yield* recorded).toEqual([])
      const kube = yield* KubeClient
      const secret = (yield* kube.get(Resource.Secret, "hello-env", { namespace: "apps" })) as unknown as {
        data: Record<string, string>
      }
      expect(secret.data).toEqual({
        API_KEY: Buffer.from("s3cret").toString("base64"),
        MULTI: Buffer.from("a\nb").toString("base64")
      })
    }).pipe(Effect.provide(memory(() => ({}))))
  )

  it.effect("env-restore sets each variable with its value on standard input, never on argv", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      yield* kube.create(Resource.Secret, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "hello-env", namespace: "apps" },
        data: { B: Buffer.from("two\n").toString("base64"), A: Buffer.from("one").toString("base64") }
      } as never)
      expect(yield* restoreEnv({ namespace: "apps", name: "hello-env" })).toBe(2)
      const calls = yield* recorded
      expect(calls.map((c) => [c.args.slice(1), c.stdin])).toEqual([
        [["env", "set", "A"], "one\n"],
        [["env", "set", "B"], "two\n\n"]
      ])
      const missing = yield* restoreEnv({ namespace: "apps", name: "nope" }).pipe(Effect.flip)
      expect(missing.message).toContain("Secret apps/nope does not exist")
    }).pipe(Effect.provide(memory(() => ({}))))
  )

  it.effect("listEnv fails, naming the query, on an answer that is not a list of variables", () =>
    Effect.gen(function* () {
      const error = yield* listEnv.pipe(Effect.flip)
      expect(error.message).toBe(
        "query _system/cli/queryEnvironmentVariables:default: the answer is not a list of {name, value} documents"
      )
    }).pipe(Effect.provide(backendAnswering({ "_system/cli/queryEnvironmentVariables:default": { name: "X" } })))
  )
})

describe("convex-operator snapshot", () => {
  const run = (...args: ReadonlyArray<string>) =>
    cli(["node", "convex-operator", ...args]).pipe(Effect.provide(NodeContext.layer), Effect.exit)

  it.live("accepts the arguments core renders into the snapshot Jobs", () =>
    Effect.gen(function* () {
      // Without the backend in the environment, each stops at the same error, after parsing its flags.
      const instance = { name: "demo", namespace: "convex" }
      for (const args of [
        snapshotExportArgs("/backups/demo.zip"),
        snapshotImportArgs("/backups/demo.zip"),
        snapshotArgs("SaveEnv", "0123456789abcdef0123", instance),
        snapshotArgs("RestoreEnv", "0123456789abcdef0123", instance)
      ]) {
        const exit = yield* run(...args)
        expect(String(Exit.isFailure(exit) && exit.cause)).toContain("set CONVEX_SELF_HOSTED_URL")
      }
    })
  )
})

describe("identifying the backend's copy of an export", () => {
  const int64 = (value: bigint) => {
    const bytes = Buffer.alloc(8)
    bytes.writeBigInt64LE(value)
    return { $integer: bytes.toString("base64") }
  }
  const ts = 1_796_480_162_417_000_123n
  const latest = { _id: "k57exp1", state: "completed", start_ts: int64(ts), requestor: "snapshotExport" }

  it("reads the int64 timestamps of Convex's encoded JSON exactly, beyond 2^53", () => {
    expect(decodeInt64(int64(ts))).toBe(ts)
    expect(decodeInt64(12)).toBe(12n)
    expect(decodeInt64({ $integer: "AAA=" })).toBeUndefined()
    expect(decodeInt64("12")).toBeUndefined()
  })

  it("takes the timestamp from the CLI's own line", () => {
    expect(printedExportTs(`- Creating snapshot export\n✔ Created snapshot export at timestamp ${ts}\n`)).toBe(ts)
    expect(printedExportTs("something else")).toBeUndefined()
  })

  it("names the latest completed export when it is the one the CLI downloaded, and says why not otherwise", () => {
    expect(identifyExport(latest, ts)).toEqual({ id: "k57exp1", startTs: ts.toString() })
    expect(identifyExport(latest, undefined)).toEqual({ id: "k57exp1", startTs: ts.toString() })
    expect(identifyExport(latest, ts + 1n)).toEqual({
      problem: `the latest snapshot export (timestamp ${ts}) is not the one downloaded (timestamp ${ts + 1n}): another export ran meanwhile`
    })
    expect(identifyExport({ ...latest, state: "in_progress" }, ts)).toEqual({
      problem: "the latest snapshot export is not a completed one (state in_progress)"
    })
    expect(identifyExport(null, ts)).toEqual({ problem: "the backend lists no snapshot export" })
  })

  it.effect("expiring without a record, or with a record of a problem, is a warning and no request", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const missing = yield* expireRecordedExport(join(dir, "none.json"))
      expect("warning" in missing && missing.warning).toMatch(
        /^the backend's copy of the export was not expired: no record at/
      )
      const record = join(dir, "problem.json")
      writeFileSync(record, JSON.stringify({ problem: "the backend lists no snapshot export" }))
      expect(yield* expireRecordedExport(record)).toEqual({
        warning: "the backend's copy of the export was not expired: the backend lists no snapshot export"
      })
      expect(existsSync(record)).toBe(false)
    }).pipe(Effect.provide(backendAnswering({})))
  )

  it.effect("expires the recorded snapshot as of now (nanoseconds, exactly)", () =>
    Effect.gen(function* () {
      const calls: Array<[string, bigint]> = []
      const record = join(tempDir(), "r.json")
      writeFileSync(record, JSON.stringify({ id: "k57exp9", startTs: ts.toString() }))
      yield* TestClock.setTime(1_796_480_200_123)
      const outcome = yield* expireRecordedExport(record).pipe(
        Effect.provide(
          Layer.succeed(DeploymentApi, {
            query: () => Effect.die("not expected"),
            setExportExpiration: (id, at) => Effect.sync(() => void calls.push([id, at]))
          })
        )
      )
      expect(outcome).toEqual({ expired: "k57exp9" })
      expect(calls).toEqual([["k57exp9", 1_796_480_200_123_000_000n]])
      expect(existsSync(record)).toBe(false)
    })
  )
})
