/**
 * A real S3-compatible server for tests: SeaweedFS (Apache-2.0), built from its Go module like the control plane
 * (build.ts) and helm (../image/helm.ts), cached in `<cache>/seaweedfs-<commit>/weed`, and started on loopback
 * with free ports, one identity (signatures are checked: a wrong secret is refused) and a bucket.
 *
 * Its go.mod has a `replace`, so `go install …@version` is refused: a wrapper module requires it, repeats the
 * replace and builds `weed` as a `tool`. `SEAWEEDFS` names a weed binary to use instead. A cold build took 24.6
 * minutes of wall time on the shared 2-core machine (10 minutes of CPU; mostly module downloads), 164 MB.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3"
import { Effect } from "effect"
import { checkBuiltGoLine, minimumGo, requireGo } from "./go-toolchain.js"
import { freePorts } from "./ports.js"
import { cacheRoot } from "./versions.js"

export const seaweedfsVersion = "v0.0.0-20261109003541-7506e5f91cd6"
const seaweedfsModule = "github.com/seaweedfs/seaweedfs"

// The wrapper asks for go-toolchain.ts's minimumGo, which is at least SeaweedFS's own go line (1.26.6).
const wrapperGoMod = `module convex-operator.local/seaweedfs

go ${minimumGo}

require ${seaweedfsModule} ${seaweedfsVersion}

// As in seaweedfs's own go.mod (why go install is refused).
replace github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0

tool ${seaweedfsModule}/weed
`

/** The weed binary: `$SEAWEEDFS`, else the cached build (built now when missing; a cold build takes many minutes). */
export const ensureSeaweedfs = async (log: (line: string) => void = (line) => console.log(`[seaweedfs] ${line}`)) => {
  if (process.env.SEAWEEDFS !== undefined && process.env.SEAWEEDFS !== "") return process.env.SEAWEEDFS
  const dir = path.join(cacheRoot(), `seaweedfs-${seaweedfsVersion.split("-").at(-1)}`)
  const binary = path.join(dir, "weed")
  if (fs.existsSync(binary)) return binary
  requireGo(`SeaweedFS ${seaweedfsVersion}`)
  const work = `${dir}.build-${process.pid}`
  fs.mkdirSync(work, { recursive: true })
  fs.writeFileSync(path.join(work, "go.mod"), wrapperGoMod)
  const env = { ...process.env, CGO_ENABLED: "0", GOTOOLCHAIN: "local", GOWORK: "off" }
  const started = Date.now()
  log(`building SeaweedFS ${seaweedfsVersion} into ${dir}`)
  try {
    const go = (args: ReadonlyArray<string>) => promisify(execFile)("go", args, { cwd: work, env, timeout: 3_600_000 })
    await go(["mod", "tidy"])
    await go(["build", "-trimpath", "-ldflags", "-s -w", "-o", path.join(work, "weed"), `${seaweedfsModule}/weed`])
    // Before the binary enters the cache: its go.mod must have the go line go-toolchain.ts's table says.
    checkBuiltGoLine(seaweedfsModule, seaweedfsVersion, env)
    fs.mkdirSync(dir, { recursive: true })
    fs.renameSync(path.join(work, "weed"), binary)
  } catch (error) {
    if (fs.existsSync(binary)) return binary
    const stderr = (error as { stderr?: string }).stderr ?? String(error)
    throw new Error(`building SeaweedFS ${seaweedfsVersion} failed:\n${stderr.slice(-2000)}`)
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
  log(`SeaweedFS built in ${((Date.now() - started) / 1000).toFixed(1)}s`)
  return binary
}

export interface S3Server {
  readonly endpoint: string
  readonly bucket: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly stop: () => Promise<void>
}

/** Starts `weed server` (master, volume, filer, S3) on loopback with a bucket; `stop` kills it and its data. */
export const startS3Server = async (bucket = "backups"): Promise<S3Server> => {
  const weed = await ensureSeaweedfs()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-s3-"))
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc] = await Effect.runPromise(freePorts(8))
  const accessKeyId = "e2e-access-key"
  const secretAccessKey = "e2e-secret-key-0123456789abcdef"
  const config = path.join(dir, "s3.json")
  fs.writeFileSync(
    config,
    JSON.stringify({
      identities: [
        {
          name: "e2e",
          credentials: [{ accessKey: accessKeyId, secretKey: secretAccessKey }],
          actions: ["Admin", "Read", "Write", "List"]
        }
      ]
    })
  )
  fs.mkdirSync(path.join(dir, "data"))
  const log = fs.openSync(path.join(dir, "weed.log"), "a")
  const child: ChildProcess = spawn(
    weed,
    [
      "server",
      `-dir=${path.join(dir, "data")}`,
      "-ip=127.0.0.1",
      "-ip.bind=127.0.0.1",
      `-master.port=${master}`,
      `-master.port.grpc=${masterGrpc}`,
      `-volume.port=${volume}`,
      `-volume.port.grpc=${volumeGrpc}`,
      "-volume.max=4",
      "-master.volumeSizeLimitMB=64",
      "-filer",
      `-filer.port=${filer}`,
      `-filer.port.grpc=${filerGrpc}`,
      "-s3",
      `-s3.port=${s3}`,
      `-s3.port.grpc=${s3Grpc}`,
      `-s3.config=${config}`
    ],
    { stdio: ["ignore", log, log] }
  )
  const endpoint = `http://127.0.0.1:${s3}`
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill("SIGTERM")
      await new Promise((resolve) => child.once("exit", resolve))
    }
    fs.closeSync(log)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const client = new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey }
  })
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }))
      break
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        const tail = fs.readFileSync(path.join(dir, "weed.log"), "utf8").slice(-2000)
        await stop()
        throw new Error(`SeaweedFS S3 did not come up on ${endpoint}: ${String(error)}\n${tail}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }
  client.destroy()
  return { endpoint, bucket, accessKeyId, secretAccessKey, stop }
}
