/**
 * The operator image run for real against the full local cluster, on the host network:
 * - `run` as the generated Deployment's container says (its args, environment and security context: read-only root
 *   filesystem with /tmp an emptyDir, no privilege escalation, all capabilities dropped), with a kubeconfig holding
 *   the token of the generated RBAC's ServiceAccount, until a ConvexInstance is Ready (kwok plays the kubelet for
 *   the instance's pods) and until it stops with exit code 0 on SIGTERM;
 * - the backup Job the operator renders for a ConvexBackup, its containers run in order from the Job as stored
 *   (same image, the Job's user 65532 and security context, the claim a host folder) against the loopback stand-in
 *   of the Convex backend (packages/operator/test/support/convex-stand-in.ts), which the real `convex` CLI in the
 *   image talks to: the ZIP lands on the "claim" and the store step reports it.
 * The backend URL is the one thing replaced: the Job names the in-cluster Service, which does not resolve here.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { crdFiles } from "@convex-operator/core"
import { install, installObjects } from "convex-operator"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { type StandIn, startStandIn } from "../../packages/operator/test/support/convex-stand-in.js"
import { kubeHelpers } from "../e2e/support/fault.js"
import { conditionOf, eventually, type Kubectl, makeKubectl } from "../e2e/support/kube.js"
import { operatorKubeconfig } from "../e2e/support/service-account-kubeconfig.js"
import { useLocalCluster } from "../integration/support.js"
import { repoRoot } from "../support/manifests.js"
import { containerRun } from "./kube-container.js"
import { podman, podmanOk } from "./podman.js"

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes JSON, checked by the assertions
type Json = Record<string, any>

const { image } = inject("operatorImage")
const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-image-run-"))
const cluster = useLocalCluster(
  { components: "full", crds: crdFiles.map((file) => path.join(repoRoot, file.path)) },
  180_000
)
const ns = "image-tier"
const version = "1111111111111111111111111111111111111111"
const operatorName = `convex-operator-image-tier-${process.pid}`
const imageUser = 65532
let kubectl: Kubectl
let probes = ""
let stopped = false
let failed = false
const timings: Array<string> = []

const apply = (object: unknown) =>
  kubectl(["apply", "--server-side", "--field-manager=image-tier", "-f", "-"], JSON.stringify(object))
const get = (kind: string, name: string) => kubectl.json<Json>([kind, name, "-n", ns])
const operatorLog = async () => {
  const { stdout, stderr } = await podman(["logs", "--tail", "30", operatorName])
  return `${stdout}${stderr}`
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

/** A folder or file the image's user can use, as a kubelet makes a volume writable for fsGroup. */
const forImageUser = (target: string, mode: number) => {
  fs.chownSync(target, imageUser, imageUser)
  fs.chmodSync(target, mode)
  return target
}

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: install.namespace } })
  apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })
  const kubeconfig = forImageUser(operatorKubeconfig(kubectl, info, work), 0o400)
  const deployment = installObjects(image).find((object) => object.kind === "Deployment") as Json
  const pod = deployment.spec.template.spec
  const manager = pod.containers[0]
  expect(manager.image).toBe(image)
  const [metricsPort, probesPort] = [await freePort(), await freePort()]
  probes = `http://127.0.0.1:${probesPort}`
  // The Deployment's args, with the ports moved to free loopback ones and the kubeconfig and namespace added (in
  // a cluster the pod's ServiceAccount token and the in-cluster config take their place).
  const args = [
    ...manager.args.filter((arg: string) => !/^--(metrics|health-probe)-bind-address=/.test(arg)),
    `--metrics-bind-address=127.0.0.1:${metricsPort}`,
    `--health-probe-bind-address=127.0.0.1:${probesPort}`,
    "--kubeconfig=/var/run/convex-operator/kubeconfig",
    `--namespaces=${ns}`
  ]
  const run = containerRun({
    podSecurity: pod.securityContext,
    container: { ...manager, args },
    volumes: pod.volumes,
    hostPaths: {},
    resolve: (variable) => {
      const field = variable.valueFrom?.fieldRef?.fieldPath
      if (field === "metadata.namespace") return install.namespace
      if (field === "metadata.name") return operatorName
      throw new Error(`no value for ${variable.name}`)
    },
    workDir: work
  })
  expect(run.flags).toEqual(
    expect.arrayContaining(["--read-only", "--cap-drop=ALL", "--security-opt=no-new-privileges"])
  )
  const started = Date.now()
  await podmanOk(
    [
      "run",
      "--detach",
      `--name=${operatorName}`,
      ...run.flags,
      `--volume=${kubeconfig}:/var/run/convex-operator/kubeconfig:ro`,
      image,
      ...run.args
    ],
    { env: run.env }
  )
  await eventually(
    "the operator in the image to answer /readyz",
    async () => ((await fetch(`${probes}/readyz`, { signal: AbortSignal.timeout(1000) })).ok ? true : undefined),
    { timeoutMillis: 60_000, intervalMillis: 500, detail: () => "see the operator log below" }
  ).catch(async (error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : error}\n${await operatorLog()}`)
  })
  timings.push(`operator ready ${((Date.now() - started) / 1000).toFixed(1)}s`)
}, 240_000)

afterAll(async () => {
  const state = stopped ? undefined : await stopOperator().catch((error: unknown) => String(error))
  console.log(`[image] ${timings.join(", ")}${failed ? `; work folder ${work}` : ""}`)
  await podman(["rm", "--force", operatorName])
  if (!failed) fs.rmSync(work, { recursive: true, force: true })
  if (state !== undefined && state !== 0) throw new Error(`the operator in the image stopped with ${state}`)
}, 60_000)

/** SIGTERM (as the kubelet sends), up to 30 s (the Deployment's grace period); resolves to the exit code. */
const stopOperator = async () => {
  stopped = true
  await podmanOk(["stop", "--time=30", operatorName], { timeoutMillis: 60_000 })
  return Number((await podmanOk(["inspect", "--format", "{{.State.ExitCode}}", operatorName])).trim())
}

describe("the image, run", () => {
  it("`run` with the Deployment's security context and the generated RBAC brings an instance to Ready", async () => {
    const started = Date.now()
    // The instance's backup claim, bound up front to a volume whose folder the backup test reads.
    kubeHelpers(kubectl).backupVolume(ns, "app")
    apply({
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexInstance",
      metadata: { name: "app", namespace: ns },
      spec: { environment: "dev", version }
    })
    const ready = await eventually(
      `${ns}/app Ready`,
      () => {
        const instance = get("convexinstance", "app")
        return conditionOf(instance, "Ready")?.status === "True" ? instance : undefined
      },
      { timeoutMillis: 90_000, detail: () => JSON.stringify(get("convexinstance", "app")?.status) }
    ).catch(async (error: unknown) => {
      failed = true
      throw new Error(`${error instanceof Error ? error.message : error}\n${await operatorLog()}`)
    })
    timings.push(`instance Ready ${((Date.now() - started) / 1000).toFixed(1)}s`)
    expect(ready.status.observedGeneration).toBe(ready.metadata.generation)
    expect(get("statefulset", "app-backend")?.spec.template.spec.containers[0].image).toContain(version)
  }, 120_000)

  it("the backup Job's containers, run from the stored Job with its user, store the backend's export as a ZIP", async () => {
    apply({
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexBackup",
      metadata: { name: "first", namespace: ns },
      spec: { instanceRef: { name: "app" }, target: { pvc: {} } }
    })
    const job = await eventually("the backup Job", () => get("job", "first-backup"), { timeoutMillis: 60_000 })
    const pod = job.spec.template.spec
    const containers: ReadonlyArray<Json> = [...(pod.initContainers ?? []), ...pod.containers]
    expect(containers.map((container) => container.name)).toEqual(["export", "store"])
    for (const container of containers) expect(container.image).toBe(image)
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: imageUser, runAsGroup: imageUser })
    // The admin key, from the instance's Secret the Job references (never printed).
    const secretOf = (variable: Json) => {
      const ref = variable.valueFrom?.secretKeyRef
      if (ref === undefined) throw new Error(`no value for ${variable.name}`)
      const secret = kubectl.json<Json>(["secret", ref.name, "-n", ns])
      return Buffer.from(secret?.data?.[ref.key] ?? "", "base64").toString("utf8")
    }
    const keyVariable = containers[0]?.env?.find((variable: Json) => variable.name === "CONVEX_SELF_HOSTED_ADMIN_KEY")
    const adminKey = secretOf(keyVariable)
    expect(adminKey).not.toBe("")
    const backend: StandIn = await startStandIn(adminKey)
    try {
      const claimVolume = pod.volumes.find((volume: Json) => volume.name === "backups")
      expect(claimVolume.persistentVolumeClaim.claimName).toBe("app-backups")
      const claim = forImageUser(fs.mkdtempSync(path.join(work, "claim-")), 0o2770)
      const results: Array<{ name: string; code: number | null; output: string; message: string }> = []
      for (const container of containers) {
        // Where a container talks to the backend, the Job names the instance's in-cluster Service.
        const url = (container.env ?? []).find((variable: Json) => variable.name === "CONVEX_SELF_HOSTED_URL")
        if (url !== undefined) expect(url.value).toMatch(new RegExp(`^http://app-backend\\.${ns}\\.svc`))
        const run = containerRun({
          podSecurity: pod.securityContext,
          container,
          volumes: pod.volumes,
          hostPaths: { backups: claim },
          resolve: secretOf,
          override: { CONVEX_SELF_HOSTED_URL: backend.url },
          workDir: work
        })
        const started = Date.now()
        const result = await podman(["run", "--rm", ...run.flags, container.image, ...run.args], {
          env: run.env,
          timeoutMillis: 120_000
        })
        timings.push(`${container.name} container ${((Date.now() - started) / 1000).toFixed(1)}s`)
        const message = fs.readFileSync(run.terminationLog, "utf8")
        results.push({ name: container.name, code: result.code, output: result.stdout + result.stderr, message })
        if (result.code !== 0) break
      }
      const detail = JSON.stringify({ results, requests: backend.requests.map((r) => `${r.method} ${r.path}`) })
      expect(
        results.map((result) => [result.name, result.code]),
        detail
      ).toEqual([
        ["export", 0],
        ["store", 0]
      ])
      const zip = path.join(claim, "first.zip")
      expect(fs.readFileSync(zip)).toEqual(backend.exportZip)
      expect(fs.statSync(zip).uid).toBe(imageUser)
      // Only the ZIP stays on the claim (an export record, where the Job writes one, is the store step's to remove).
      expect(fs.readdirSync(claim)).toEqual(["first.zip"])
      expect(results[1]?.message).toContain("pvc://app-backups/first.zip")
      const calls = backend.requests.filter((request) => request.method !== "WS")
      expect(calls.every((request) => request.authorized)).toBe(true)
      expect(calls.find((request) => request.path === "/api/export/request/zip")?.query).toMatchObject({
        includeStorage: "true"
      })
      expect(calls.some((request) => request.path.startsWith("/api/export/zip/"))).toBe(true)
      // A store step told to expire the backend's copy of the export does so.
      const expires = containers.some((container) => (container.args ?? []).includes("--expire-export"))
      expect(calls.some((request) => request.path.startsWith("/api/export/set_expiration/"))).toBe(expires)
    } catch (error) {
      failed = true
      throw error
    } finally {
      await backend.close()
    }
  }, 180_000)

  it("stops with exit code 0 on SIGTERM", async () => {
    const code = await stopOperator()
    if (code !== 0) failed = true
    expect(code, await operatorLog()).toBe(0)
  }, 90_000)
})
