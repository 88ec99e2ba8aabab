/**
 * `backup store` to an HTTPS endpoint whose certificate a private CA signed (the local cluster's PKI, made with
 * openssl): the upload succeeds only when NODE_EXTRA_CA_CERTS names that CA, which is what a backup Job with
 * `caSecretRef` sets. Node reads the variable once at start, so the CLI runs as a child process, as in a Job.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as https from "node:https"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { generatePki, type Pki } from "../../../test/cluster/pki.js"
import { repoRoot } from "../../../test/support/manifests.js"

interface Received {
  readonly method: string
  readonly url: string
  readonly bytes: number
}

/** An S3 stand-in that accepts every PUT (answering with an ETag) and records it. */
const s3Server = (pki: Pki) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: https.Server; readonly received: Array<Received> }>((resume) => {
      const received: Array<Received> = []
      const server = https.createServer(
        { cert: readFileSync(pki.servingCertFile), key: readFileSync(pki.servingKeyFile) },
        (request, response) => {
          let bytes = 0
          request.on("data", (chunk: Buffer) => {
            bytes += chunk.length
          })
          request.on("end", () => {
            received.push({ method: request.method ?? "", url: request.url ?? "", bytes })
            response.writeHead(200, { ETag: '"0123456789abcdef"' })
            response.end()
          })
        }
      )
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, received })))
    }),
    ({ server }) => Effect.sync(() => server.close())
  )

/** Runs `convex-operator backup store …` from the sources with `extraEnv`; its exit code and termination message. */
const store = (args: ReadonlyArray<string>, terminationLog: string, extraEnv: Readonly<Record<string, string>>) =>
  Effect.async<{ readonly code: number; readonly message: string; readonly output: string }>((resume) => {
    const { NODE_EXTRA_CA_CERTS: _inherited, ...env } = process.env
    execFile(
      process.execPath,
      [
        "--import",
        "tsx",
        "--conditions=@convex-operator/source",
        join(repoRoot, "packages/operator/src/main.ts"),
        "backup",
        "store",
        "--termination-log",
        terminationLog,
        ...args
      ],
      {
        cwd: repoRoot,
        env: { ...env, AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "never-printed-secret", ...extraEnv }
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
        let message = ""
        try {
          message = readFileSync(terminationLog, "utf8")
        } catch {
          // No termination message written.
        }
        resume(Effect.succeed({ code, message, output: `${stdout}${stderr}` }))
      }
    )
  })

describe("backup store to an endpoint with a private CA", () => {
  it.live(
    "uploads only when NODE_EXTRA_CA_CERTS names the CA, and otherwise says which fields name one",
    () =>
      Effect.gen(function* () {
        const dir = yield* Effect.acquireRelease(
          Effect.sync(() => mkdtempSync(join(tmpdir(), "convex-operator-private-ca-"))),
          (path) => Effect.sync(() => rmSync(path, { recursive: true, force: true }))
        )
        const pki = yield* generatePki(dir)
        const { server, received } = yield* s3Server(pki)
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        const file = join(dir, "b.zip")
        writeFileSync(file, Buffer.alloc(2048, 7))
        const args = [
          "--file",
          file,
          "--location",
          "s3://backups/prod/app/b.zip",
          "--s3-bucket",
          "backups",
          "--s3-key",
          "prod/app/b.zip",
          "--s3-endpoint",
          `https://127.0.0.1:${port}`,
          "--s3-force-path-style"
        ]

        const untrusted = yield* store(args, join(dir, "untrusted.log"), {})
        expect(untrusted.code).not.toBe(0)
        expect(untrusted.message).toMatch(/^uploading to s3:\/\/backups\/prod\/app\/b\.zip: /)
        expect(untrusted.message).toContain("not signed by a CA this Job trusts")
        expect(untrusted.message).toContain("caSecretRef")
        expect(`${untrusted.message}${untrusted.output}`).not.toContain("never-printed-secret")
        expect(received).toEqual([])

        const trusted = yield* store(args, join(dir, "trusted.log"), { NODE_EXTRA_CA_CERTS: pki.caFile })
        expect(trusted.code, trusted.output).toBe(0)
        expect(JSON.parse(trusted.message)).toEqual({ sizeBytes: 2048, location: "s3://backups/prod/app/b.zip" })
        const put = received.find((request) => request.method === "PUT")
        expect(put?.url).toMatch(/^\/backups\/prod\/app\/b\.zip/)
        expect(put?.bytes ?? 0).toBeGreaterThanOrEqual(2048)
      }).pipe(Effect.scoped),
    // Two CLI processes started through tsx (about 2-5 s each on a loaded 2-core machine) and openssl.
    60_000
  )
})
