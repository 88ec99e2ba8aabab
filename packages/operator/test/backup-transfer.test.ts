/** What `backup store|fetch|remove` say about a failed transfer (the cause, what to check), and their time limits. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { describe as describeFailure, upload } from "../src/controllers/backup/transfer.js"

const named = (name: string, message: string) => Object.assign(new Error(message), { name })
const system = (code: string, message: string) => Object.assign(new Error(message), { code })

describe("a failed transfer, in one line", () => {
  it("names the S3 error and says which credential to check", () => {
    expect(describeFailure(named("SignatureDoesNotMatch", "The request signature we calculated does not match"))).toBe(
      "SignatureDoesNotMatch: The request signature we calculated does not match (the server refused the request's signature: check the secret access key in the credentials Secret)"
    )
    expect(describeFailure(named("InvalidAccessKeyId", "The access key ID you provided does not exist"))).toContain(
      "check the access key id in the credentials Secret"
    )
    expect(describeFailure(named("NoSuchBucket", "The specified bucket does not exist"))).toContain(
      "the bucket does not exist"
    )
  })
  it("names a refused connection by its code, also when the message is empty (an AggregateError of addresses)", () => {
    expect(describeFailure(system("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:9"))).toBe(
      "connect ECONNREFUSED 127.0.0.1:9 (nothing accepts connections at the endpoint: check the endpoint's host and port, and that it runs)"
    )
    const aggregate = Object.assign(new AggregateError([], ""), { code: "ECONNREFUSED" })
    expect(describeFailure(aggregate)).toMatch(/^AggregateError: ECONNREFUSED \(nothing accepts connections/)
  })
  it("passes anything else through", () => {
    expect(describeFailure(new Error("socket hang up"))).toBe("socket hang up")
    expect(describeFailure("plain")).toBe("plain")
  })
})

describe("an endpoint that accepts connections and never answers", () => {
  it.effect("fails the upload after the idle limit (each of the SDK's attempts), naming the timeout", () =>
    Effect.gen(function* () {
      const server = yield* Effect.acquireRelease(
        Effect.async<net.Server>((resume) => {
          const listening = net.createServer(() => {
            // Accept, read nothing, answer nothing.
          })
          listening.listen(0, "127.0.0.1", () => resume(Effect.succeed(listening)))
        }),
        (listening) => Effect.sync(() => listening.close())
      )
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const dir = mkdtempSync(join(tmpdir(), "convex-operator-transfer-"))
      const file = join(dir, "s.zip")
      writeFileSync(file, Buffer.alloc(1024, 1))
      // The SDK signs with credentials from the environment (as in a Job); put back what was there after.
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY }
          process.env.AWS_ACCESS_KEY_ID = "id"
          process.env.AWS_SECRET_ACCESS_KEY = "never-printed-secret"
          return saved
        }),
        (saved) =>
          Effect.sync(() => {
            for (const [name, value] of [
              ["AWS_ACCESS_KEY_ID", saved.id],
              ["AWS_SECRET_ACCESS_KEY", saved.secret]
            ] as const) {
              if (value === undefined) delete process.env[name]
              else process.env[name] = value
            }
          })
      )
      const error = yield* Effect.flip(
        upload(file, {
          bucket: "backups",
          key: "k.zip",
          region: "us-east-1",
          endpoint: `http://127.0.0.1:${port}`,
          forcePathStyle: true,
          timeouts: { connectMillis: 1000, idleMillis: 300 }
        })
      )
      rmSync(dir, { recursive: true, force: true })
      expect(error.message).toMatch(/^uploading to s3:\/\/backups\/k\.zip: TimeoutError: .*timed out after 300 ms/)
      expect(error.message).toContain("the endpoint did not answer in time")
      expect(error.message).not.toContain("never-printed-secret")
    }).pipe(Effect.scoped)
  )
})
