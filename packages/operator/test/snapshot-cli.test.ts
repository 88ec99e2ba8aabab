/**
 * The real `convex` CLI (the bundled 1.48.0) run through the live ConvexCli layer against a loopback stand-in of
 * the backend: a wrong flag, endpoint or environment variable fails here.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, join } from "node:path"
import { snapshotExportArgs } from "@convex-operator/core/internal"
import { NodeContext } from "@effect/platform-node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { cli } from "convex-operator"
import { ConfigProvider, Effect, FastCheck as fc, Layer, Redacted } from "effect"
import { ConvexCli } from "../src/snapshot/ConvexCli.js"
import { DeploymentApi } from "../src/snapshot/DeploymentApi.js"
import { exportSnapshot, importSnapshot, listEnv, setEnv } from "../src/snapshot/operations.js"
import { type StandIn, startStandIn } from "./support/convex-stand-in.js"

const adminKey = "stand-in|01aa55"
let backend: StandIn

beforeAll(async () => {
  backend = await startStandIn(adminKey)
})
afterAll(async () => {
  await backend.close()
})

const live = () => {
  const target = { url: backend.url, adminKey: Redacted.make(adminKey) }
  return Layer.merge(ConvexCli.layerLive(target), DeploymentApi.layer(target))
}

const requests = () => backend.requests.map((r) => `${r.method} ${r.path}${r.authorized ? "" : " (no key)"}`)

describe("the real convex CLI against a loopback backend", { timeout: 60_000 }, () => {
  it.live("env set sends the value read from stdin; the variables read back as JSON from the env list query", () =>
    Effect.gen(function* () {
      backend.env.clear()
      backend.requests.length = 0
      yield* setEnv({ name: "API_KEY", value: "s3cret value" })
      yield* setEnv({ name: "MULTI", value: "line one\nline 'two' #3\n" })
      expect(backend.env.get("API_KEY")).toBe("s3cret value")
      expect(backend.env.get("MULTI")).toBe("line one\nline 'two' #3\n")
      const listed = yield* listEnv
      expect(listed).toEqual([
        { name: "API_KEY", value: "s3cret value" },
        { name: "MULTI", value: "line one\nline 'two' #3\n" }
      ])
      expect(requests()).toEqual([
        "POST /api/update_environment_variables",
        "POST /api/update_environment_variables",
        "POST /api/query"
      ])
      expect(JSON.parse(backend.requests[2]?.body ?? "")).toEqual({
        path: "_system/cli/queryEnvironmentVariables:default",
        format: "convex_encoded_json",
        args: [{}]
      })
    }).pipe(Effect.provide(live()))
  )

  it.live("the CLI's env list prints two different sets of variables the same way; the JSON tells them apart", () =>
    Effect.gen(function* () {
      const cli = yield* ConvexCli
      const printed = function* (variables: Record<string, string>) {
        backend.env.clear()
        for (const [name, value] of Object.entries(variables)) backend.env.set(name, value)
        const { stdout } = yield* cli.run(["env", "list", "--include-values"])
        return { stdout, read: yield* listEnv }
      }
      // The CLI leaves a value unquoted unless it starts and ends with the same quote (formatEnvValueForDotfile).
      const two = yield* printed({ A: "'x", B: "y'" })
      const one = yield* printed({ A: "x\nB=y" })
      expect(two.stdout).toBe("A='x\nB=y'\n")
      expect(one.stdout).toBe(two.stdout)
      expect(two.read).toEqual([
        { name: "A", value: "'x" },
        { name: "B", value: "y'" }
      ])
      expect(one.read).toEqual([{ name: "A", value: "x\nB=y" }])
    }).pipe(Effect.provide(live()))
  )

  // Values made of the characters the CLI's .env quoting treats specially, and any others.
  const special = fc.constantFrom("'", '"', "`", "#", "\n", "\r", "\f", "\v", "\\n", "=", " ", "\\")
  const value = fc
    .array(fc.oneof(special, fc.string({ unit: "binary", maxLength: 4 })), { maxLength: 12 })
    .map((parts) => parts.join(""))
  const variables = fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/), value, { maxKeys: 5 })

  it.live.prop("env-save reads back every variable exactly, whatever its value", [variables], ([generated]) =>
    Effect.gen(function* () {
      backend.env.clear()
      for (const [name, text] of Object.entries(generated)) backend.env.set(name, text)
      const read = yield* listEnv
      const expected = Object.entries(generated)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([name, text]) => ({ name, value: text }))
      expect(read).toEqual(expected)
    }).pipe(Effect.provide(live()))
  )

  it.live("export requests a ZIP with storage, waits for it over the WebSocket and downloads it", () =>
    Effect.gen(function* () {
      backend.requests.length = 0
      backend.exportZip = Buffer.from("PK-stand-in-export")
      const path = join(mkdtempSync(join(tmpdir(), "convex-operator-export-")), "upgrade-0123456789abcdef.zip")
      yield* exportSnapshot({ path, includeFileStorage: true })
      expect(readFileSync(path, "utf8")).toBe("PK-stand-in-export")
      const request = backend.requests.find((r) => r.path === "/api/export/request/zip")
      expect(request?.query).toEqual({ includeStorage: "true" })
      expect(requests()).toEqual(
        expect.arrayContaining([
          "POST /api/export/request/zip",
          "WS Add _system/cli/exports:getLatest",
          `GET /api/export/zip/${backend.exports.at(-1)?.startTs}`
        ])
      )
    }).pipe(Effect.provide(live()))
  )

  it.live("import uploads the ZIP, asks for replaceAll and confirms without a terminal (-y)", () =>
    Effect.gen(function* () {
      backend.requests.length = 0
      const path = join(mkdtempSync(join(tmpdir(), "convex-operator-import-")), "upgrade-0123456789abcdef.zip")
      writeFileSync(path, "PK-a-snapshot")
      yield* importSnapshot({ path, replaceAll: true })
      expect(backend.imported?.bytes.toString("utf8")).toBe("PK-a-snapshot")
      expect(backend.imported?.args).toMatchObject({ mode: "replaceAll", format: "zip" })
      expect(backend.performed).toBe(true)
      expect(requests()).toEqual(
        expect.arrayContaining([
          "POST /api/import/start_upload",
          "POST /api/import/upload_part",
          "POST /api/import/finish_upload",
          "POST /api/perform_import"
        ])
      )
    }).pipe(Effect.provide(live()))
  )

  it.live("a wrong admin key fails with the CLI's message and without the key", () =>
    Effect.gen(function* () {
      const error = yield* setEnv({ name: "X", value: "1" }).pipe(
        Effect.provide(ConvexCli.layerLive({ url: backend.url, adminKey: Redacted.make("stand-in|01bad") })),
        Effect.flip
      )
      expect(error.message).toMatch(/^convex env set exited with 1/)
      expect(error.message).not.toContain("01bad")
    })
  )
})

describe("convex-operator snapshot export, as a Job runs it", { timeout: 60_000 }, () => {
  it.live("reads the backend from the environment and writes the ZIP core's Job names", () =>
    Effect.gen(function* () {
      backend.requests.length = 0
      backend.exportZip = Buffer.from("PK-from-the-job")
      const dir = mkdtempSync(join(tmpdir(), "convex-operator-job-"))
      const [, , , path, ...rest] = snapshotExportArgs("/backups/demo-pre-upgrade-0123456789-1.zip")
      const local = join(dir, basename(path ?? ""))
      yield* cli(["node", "convex-operator", "snapshot", "export", "--path", local, ...rest]).pipe(
        Effect.provide(NodeContext.layer),
        Effect.withConfigProvider(
          ConfigProvider.fromMap(
            new Map([
              ["CONVEX_SELF_HOSTED_URL", backend.url],
              ["CONVEX_SELF_HOSTED_ADMIN_KEY", adminKey]
            ])
          )
        )
      )
      expect(readFileSync(local, "utf8")).toBe("PK-from-the-job")
      expect(backend.requests.find((r) => r.path === "/api/export/request/zip")?.query).toEqual({
        includeStorage: "true"
      })
    })
  )
})
