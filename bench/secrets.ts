/**
 * `npx tsx --conditions=@convex-operator/source bench/secrets.ts [--secrets 5000] [--bytes 256] [--instances 10]
 * [--runs 2] [--settle 15] [--before <checkout>]`: what unrelated Secrets cost the operator at start-up. Never part
 * of `npm test`.
 *
 * On an apiserver + etcd cluster holding `--secrets` Secrets no instance references (`--bytes` random bytes of data
 * each, plus `--instances` dev instances that each reference one Secret of their own), the operator is started as a
 * separate process under its generated RBAC, `--runs` times per build, builds alternating. For each start: the time
 * from spawning Node to `/readyz` answering 200 (every cache has listed; polled every 200 ms), the resident set
 * right then and `--settle` seconds later, and the peak resident set (VmHWM) of the process.
 *
 * The builds: the current sources, and with `--before <dir>` the sources of another checkout of this repository
 * (e.g. `git worktree add <dir> <commit>`, with a node_modules as `bundle` below says), bundled the same way (the
 * image's recipe, run with the image's Node options). Writes
 * `bench/results/secrets-<N>x<bytes>.json`.
 */
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { crdFiles } from "@convex-operator/core"
import { install } from "convex-operator"
import { Effect, Exit, Scope } from "effect"
import { bundleOperator } from "../scripts/bundle-operator.js"
import { LocalCluster } from "../test/cluster/local-cluster.js"
import { makeKubectl } from "../test/e2e/support/kube.js"
import { startOperator } from "../test/e2e/support/operator-process.js"
import { operatorKubeconfig } from "../test/e2e/support/service-account-kubeconfig.js"
import { repoRoot } from "../test/support/manifests.js"
import { forEachLimited, makeApi, sleep } from "./kube.js"
import { memory } from "./proc.js"
import { table } from "./stats.js"

const { values: flags } = parseArgs({
  options: {
    secrets: { type: "string", default: "5000" },
    bytes: { type: "string", default: "256" },
    instances: { type: "string", default: "10" },
    runs: { type: "string", default: "2" },
    settle: { type: "string", default: "15" },
    before: { type: "string" },
    note: { type: "string", default: "machine shared with other engineers' test runs" }
  }
})
const secretCount = Number(flags.secrets)
const bytes = Number(flags.bytes)
const instanceCount = Number(flags.instances)
const runs = Number(flags.runs)
const settleSeconds = Number(flags.settle)
const namespace = "bench-tenants"

const machine = () => ({
  cores: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
  loadavg: os.loadavg().map((load) => Math.round(load * 100) / 100)
})
const log = (line: string) => console.log(`[bench secrets] ${line}`)
const mib = (value: number) => Math.round(value * 10) / 10

/**
 * Bundles the operator of `checkout` (this repository or another checkout of it) into `dir` as the image does
 * (scripts/bundle-operator.ts of this checkout, so both builds are bundled alike). The workspace packages resolve
 * through the checkout's own node_modules: give another checkout a node_modules whose `@convex-operator/*` and
 * `convex-operator` entries point into that checkout (the third-party entries may be links to this one's).
 */
const bundle = async (checkout: string, dir: string): Promise<string> => {
  fs.mkdirSync(dir, { recursive: true })
  fs.copyFileSync(path.join(checkout, "packages/operator/package.json"), path.join(dir, "package.json"))
  const core = fs.realpathSync(path.join(checkout, "node_modules", "@convex-operator", "core"))
  if (core !== fs.realpathSync(path.join(checkout, "packages", "core")))
    throw new Error(`${checkout}: node_modules/@convex-operator/core is ${core}, not this checkout's packages/core`)
  return bundleOperator(path.join(dir, "bundle"), checkout)
}

/** The commit a checkout is at, with `+changes` when its tracked files differ from it. */
const commitOf = (checkout: string) => {
  const git = (...args: Array<string>) => execFileSync("git", ["-C", checkout, ...args], { encoding: "utf8" }).trim()
  return `${git("rev-parse", "--short", "HEAD")}${git("status", "--porcelain", "--untracked-files=no") === "" ? "" : "+changes"}`
}

interface Sample {
  readonly build: string
  readonly run: number
  readonly readyMillis: number
  readonly rssAtReadyMiB: number
  readonly rssAfterSettleMiB: number
  readonly peakRssMiB: number
}

const main = async () => {
  const startedAt = new Date().toISOString()
  const machineBefore = machine()
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-bench-secrets-"))
  const scope = Effect.runSync(Scope.make())
  const cluster = await Effect.runPromise(
    Scope.extend(
      LocalCluster.start({ components: "apiserver", crds: crdFiles.map((file) => path.join(repoRoot, file.path)) }),
      scope
    )
  )
  try {
    const api = makeApi(cluster.http)
    const kubectl = makeKubectl(cluster.kubectl, cluster.kubeconfigPath)
    const version = (await api.call("GET", "/version")).body.gitVersion as string
    for (const name of [install.namespace, namespace]) {
      kubectl(["create", "namespace", name])
    }
    const create = async (apiPath: string, object: unknown) => {
      const response = await api.call("POST", apiPath, object)
      if (response.status !== 201)
        throw new Error(`POST ${apiPath}: ${response.status} ${JSON.stringify(response.body)}`)
    }
    const secretsPath = `/api/v1/namespaces/${namespace}/secrets`
    const filler = Array.from({ length: secretCount }, (_, index) => index)
    const createdAt = Date.now()
    await forEachLimited(filler, 16, (index) =>
      create(secretsPath, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `unrelated-${index}`, namespace },
        data: { value: crypto.randomBytes(bytes).toString("base64") }
      })
    )
    for (let index = 0; index < instanceCount; index++) {
      await create(secretsPath, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `referenced-${index}`, namespace },
        data: { value: Buffer.from(`value-${index}`).toString("base64") }
      })
      await create(`/apis/convex.icod.de/v1alpha1/namespaces/${namespace}/convexinstances`, {
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexInstance",
        metadata: { name: `bench-${index}`, namespace },
        spec: {
          environment: "dev",
          version: "1111111111111111111111111111111111111111",
          backend: {
            env: [{ name: "FROM_SECRET", valueFrom: { secretKeyRef: { name: `referenced-${index}`, key: "value" } } }]
          }
        }
      })
    }
    const secretBytes = secretCount * bytes
    log(
      `Kubernetes ${version}: ${secretCount} unrelated Secrets (${mib(secretBytes / 1024 ** 2)} MiB of data) and ${instanceCount} instances in ${((Date.now() - createdAt) / 1000).toFixed(1)} s`
    )

    const builds: Array<{ readonly name: string; readonly bundle: string; readonly commit: string }> = []
    if (flags.before !== undefined) {
      const checkout = path.resolve(flags.before)
      builds.push({
        name: "before",
        bundle: await bundle(checkout, path.join(work, "before")),
        commit: commitOf(checkout)
      })
    }
    builds.push({ name: "after", bundle: await bundle(repoRoot, path.join(work, "after")), commit: commitOf(repoRoot) })
    const kubeconfig = operatorKubeconfig(kubectl, cluster, work)
    const samples: Array<Sample> = []
    for (let run = 1; run <= runs; run++) {
      for (const build of builds) {
        const spawned = Date.now()
        const operator = await startOperator({ kubeconfig, logDir: work, bundle: build.bundle, logLevel: "info" })
        const readyMillis = Date.now() - spawned
        const rssAtReadyMiB = memory(operator.pid).rssMiB
        await sleep(settleSeconds * 1000)
        const after = memory(operator.pid)
        await operator.stop()
        const sample = {
          build: build.name,
          run,
          readyMillis,
          rssAtReadyMiB: mib(rssAtReadyMiB),
          rssAfterSettleMiB: mib(after.rssMiB),
          peakRssMiB: mib(after.peakRssMiB)
        }
        samples.push(sample)
        log(JSON.stringify(sample))
      }
    }

    const result = {
      startedAt,
      finishedAt: new Date().toISOString(),
      note: flags.note,
      machine: { before: machineBefore, after: machine() },
      kubernetes: version,
      cluster: "etcd + kube-apiserver (no controllers), the operator under its generated ClusterRole",
      unrelatedSecrets: { count: secretCount, dataBytesEach: bytes, dataMiB: mib(secretBytes / 1024 ** 2) },
      instances: `${instanceCount} dev instances, each referencing one Secret of its own`,
      readyMeasures: "spawn of Node to /readyz 200 (polled every 200 ms), bundle start included",
      settleSeconds,
      builds: builds.map((build) => ({ name: build.name, commit: build.commit })),
      samples
    }
    const out = path.join(repoRoot, "bench", "results", `secrets-${secretCount}x${bytes}.json`)
    fs.mkdirSync(path.dirname(out), { recursive: true })
    fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`)
    console.log(
      `\n${table([
        [
          "machine",
          `${machineBefore.cores} cores, ${machineBefore.memoryGiB} GiB, load ${machineBefore.loadavg.join(" ")} → ${result.machine.after.loadavg.join(" ")} (${flags.note})`
        ],
        ["cluster", `${version}; ${secretCount} unrelated Secrets, ${instanceCount} instances`],
        ...samples.map((s): [string, string] => [
          `${s.build} #${s.run}`,
          `ready in ${(s.readyMillis / 1000).toFixed(1)} s; RSS ${s.rssAtReadyMiB} MiB at ready, ${s.rssAfterSettleMiB} MiB after ${settleSeconds} s, peak ${s.peakRssMiB} MiB`
        ])
      ])}\n\nwritten to ${path.relative(repoRoot, out)}`
    )
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    fs.rmSync(work, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
