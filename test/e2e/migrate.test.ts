/**
 * End to end: moving an existing deployment in, on the full local cluster with the operator as a separate process.
 * The old deployment is the loopback stand-in of the Convex backend (packages/operator/test/support/convex-stand-in.ts)
 * holding some data and accepting one admin key, issued by the library from its INSTANCE_SECRET.
 *
 * `convex-operator migrate` prints the Secrets and the ConvexInstance, kubectl applies them; the operator creates the
 * restore Job. kwok only pretends to run its pod, so the test runs the Job's containers itself, as the Job says
 * (arguments, environment with its Secret references resolved, the /backups volume a folder): the export against the
 * old deployment's URL exactly as written in the Job, the import against a second stand-in playing the new backend
 * (whose in-cluster Service URL a test cannot reach), which accepts only the operator's admin key. The new instance is
 * then Ready with the old INSTANCE_SECRET in use (the old admin key verifies against it), and the user's Secret is
 * unchanged byte for byte.
 */
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { crdFiles, issueAdminKey, secretKeys, verifyAdminKey } from "@convex-operator/core"
import { install } from "convex-operator"
import { Either } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseAllDocuments } from "yaml"
import { type StandIn, startStandIn } from "../../packages/operator/test/support/convex-stand-in.js"
import { useLocalCluster } from "../integration/support.js"
import { repoRoot } from "../support/manifests.js"
import { cleanUpAfterFile } from "./support/clean-up.js"
import { conditionOf, eventually, type Kubectl, makeKubectl } from "./support/kube.js"
import { type OperatorProcess, startOperator } from "./support/operator-process.js"
import { operatorKubeconfig } from "./support/service-account-kubeconfig.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-e2e-migrate-"))
const cluster = useLocalCluster(
  { components: "full", crds: crdFiles.map((file) => path.join(repoRoot, file.path)) },
  180_000
)

let kubectl: Kubectl
let operator: OperatorProcess
let old: StandIn
let fresh: StandIn | undefined
const ns = "e2e-migrate"
const version = "1111111111111111111111111111111111111111"
const oldName = "convex-self-hosted"
/** The old deployment's INSTANCE_SECRET (CONVEX.md's test vector) and an admin key issued with it before the move. */
const oldSecret = "4361726e697461732c206c69746572616c6c79206d65616e696e6720226c6974"
const oldKey = Either.getOrThrow(
  issueAdminKey({
    instanceName: oldName,
    instanceSecret: oldSecret,
    issuedAt: 1_700_000_000,
    nonce: new Uint8Array(12)
  })
)
const oldData = Buffer.from("PK-the-old-deployment's-tables-and-files")
const timings: Array<string> = []

// biome-ignore lint/suspicious/noExplicitAny: kubectl output, checked by the assertions
type Json = Record<string, any>

const get = (kind: string, name: string) => kubectl.json<Json>([kind, name, "-n", ns])
const decoded = (secret: Json | undefined, key: string) => Buffer.from(secret?.data?.[key] ?? "", "base64").toString()

const main = path.join(repoRoot, "packages/operator/src/main.ts")
const operatorCli = async (args: ReadonlyArray<string>) => {
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", "--conditions=@convex-operator/source", main, ...args],
    { cwd: repoRoot, env: { ...process.env, KUBECONFIG: cluster.info().kubeconfigPath }, timeout: 60_000 }
  )
  return { stdout, stderr }
}

/** Runs one container of a Job with the operator's entrypoint on this machine: its args, its env resolved. */
const runContainer = (container: Json, volume: string, override: Record<string, string>) => {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: work }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef
    env[variable.name] = ref === undefined ? variable.value : decoded(get("secret", ref.name), ref.key)
  }
  Object.assign(env, override)
  const args = (container.args as ReadonlyArray<string>).map((arg) => arg.replace(/^\/backups\//, `${volume}/`))
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@convex-operator/source", main, ...args], {
      cwd: repoRoot,
      env
    })
    let output = ""
    child.stdout.on("data", (chunk) => {
      output += chunk
    })
    child.stderr.on("data", (chunk) => {
      output += chunk
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  for (const name of [install.namespace, ns]) {
    kubectl(
      ["apply", "--server-side", "--field-manager=e2e", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } })
    )
  }
  old = await startStandIn(oldKey)
  old.exportZip = oldData
  operator = await startOperator({
    kubeconfig: operatorKubeconfig(kubectl, info, work),
    logDir: work,
    args: [`--namespaces=${ns}`, "--operator-image=registry.example/convex-operator:e2e"]
  })
}, 180_000)

afterAll(async () => {
  await old?.close()
  await fresh?.close()
})

cleanUpAfterFile({
  label: "[e2e migrate]",
  work,
  stop: async () => operator?.stop(),
  summary: () => timings.join(", ")
})

describe("moving a deployment in", () => {
  it("migrate prints the manifests; applied, the restore Job exports the old deployment and imports it; Ready with the old INSTANCE_SECRET", async () => {
    const keyFile = path.join(work, "admin-key.txt")
    const secretFile = path.join(work, "instance-secret.txt")
    fs.writeFileSync(keyFile, `${oldKey}\n`)
    fs.writeFileSync(secretFile, `${oldSecret}\n`)
    const flags = [
      "--from-url",
      old.url,
      "--admin-key-file",
      keyFile,
      "--instance-secret-file",
      secretFile,
      "--version",
      version,
      "--environment",
      "dev",
      "--name",
      "app",
      "-n",
      ns
    ]
    const printed = await operatorCli(["migrate", ...flags])
    const objects = parseAllDocuments(printed.stdout).map((document) => document.toJS() as Json)
    expect(objects.map((object) => `${object.kind}/${object.metadata.name}`)).toEqual([
      "Secret/app-old-admin-key",
      "Secret/app-instance-secret",
      "ConvexInstance/app"
    ])
    const started = Date.now()
    kubectl(["apply", "-f", "-"], printed.stdout)
    const userSecret = get("secret", "app-instance-secret")
    // Applying again (--apply) changes nothing: the Secrets hold the same values, the instance exists.
    const again = await operatorCli(["migrate", ...flags, "--apply"])
    expect(again.stdout).toContain("secret/app-instance-secret unchanged")
    expect(again.stdout).toContain("convexinstance/app exists (not changed)")
    expect(again.stdout + again.stderr).not.toContain(oldSecret)

    const job = await eventually("the restore Job", () => get("job", "app-restore"), {
      timeoutMillis: 90_000,
      detail: () => `${JSON.stringify(get("convexinstance", "app")?.status)}\n${operator.logTail(20)}`
    })
    timings.push(`instance to restore Job ${((Date.now() - started) / 1000).toFixed(1)}s`)
    const pod = job.spec.template.spec
    const [exporter] = pod.initContainers
    const [importer] = pod.containers
    expect(exporter.env).toEqual([
      { name: "CONVEX_SELF_HOSTED_URL", value: old.url },
      {
        name: "CONVEX_SELF_HOSTED_ADMIN_KEY",
        valueFrom: { secretKeyRef: { name: "app-old-admin-key", key: "ADMIN_KEY" } }
      }
    ])
    expect(JSON.stringify(job)).not.toContain(oldKey)

    // The operator's Secret holds the old INSTANCE_SECRET and a key for the old INSTANCE_NAME issued with it.
    const generated = get("secret", "app-convex-secrets")
    expect(decoded(generated, secretKeys.instanceSecret)).toBe(oldSecret)
    const operatorKey = decoded(generated, secretKeys.adminKey)
    expect(verifyAdminKey(operatorKey, oldName, oldSecret)).toBe(true)
    expect(verifyAdminKey(oldKey, oldName, decoded(generated, secretKeys.instanceSecret))).toBe(true)

    // The Job's containers, run for real: export from the old deployment, import into the "new backend".
    fresh = await startStandIn(operatorKey)
    const volume = fs.mkdtempSync(path.join(work, "backups-"))
    const exported = await runContainer(exporter, volume, {})
    expect(exported.code, exported.output).toBe(0)
    const imported = await runContainer(importer, volume, { CONVEX_SELF_HOSTED_URL: fresh.url })
    expect(imported.code, imported.output).toBe(0)
    for (const output of [exported.output, imported.output]) {
      expect(output).not.toContain(oldKey)
      expect(output).not.toContain(operatorKey)
    }
    const oldCalls = old.requests.filter((request) => request.method !== "WS")
    expect(oldCalls.every((request) => request.authorized)).toBe(true)
    expect(oldCalls.find((request) => request.path === "/api/export/request/zip")?.query).toMatchObject({
      includeStorage: "true"
    })
    expect(fresh.imported?.bytes).toEqual(oldData)
    expect(fresh.imported?.args).toMatchObject({ mode: "replaceAll", format: "zip" })
    expect(fresh.performed).toBe(true)
    expect(fresh.requests.filter((request) => request.method !== "WS").every((request) => request.authorized)).toBe(
      true
    )

    const instance = await eventually(
      `${ns}/app Ready`,
      () => {
        const object = get("convexinstance", "app")
        return conditionOf(object, "Ready")?.status === "True" ? object : undefined
      },
      { timeoutMillis: 90_000, detail: () => `${JSON.stringify(get("convexinstance", "app")?.status)}` }
    )
    timings.push(`instance to Ready ${((Date.now() - started) / 1000).toFixed(1)}s`)
    expect(instance.status.restore).toMatchObject({
      phase: "Succeeded",
      source: `deployment/${new URL(old.url).host}`,
      job: "app-restore"
    })
    // The backend runs as the old deployment: its INSTANCE_NAME, its INSTANCE_SECRET (from the operator's copy).
    const config = get("configmap", "app-backend-config")
    expect(config?.data.INSTANCE_NAME).toBe(oldName)
    const container = get("statefulset", "app-backend")?.spec.template.spec.containers[0]
    expect(container.env).toContainEqual({
      name: "INSTANCE_SECRET",
      valueFrom: { secretKeyRef: { name: "app-convex-secrets", key: secretKeys.instanceSecret } }
    })
    // `admin-key get` gives a key of the old deployment's secret.
    const got = await operatorCli(["admin-key", "get", "app", "-n", ns])
    expect(verifyAdminKey(got.stdout.trim(), oldName, oldSecret)).toBe(true)

    // The user's Secret: unchanged byte for byte, never written by the operator.
    const after = get("secret", "app-instance-secret")
    expect(after?.data).toEqual(userSecret?.data)
    expect(after?.metadata.resourceVersion).toBe(userSecret?.metadata.resourceVersion)
    expect((after?.metadata.managedFields ?? []).map((field: Json) => field.manager)).not.toContain("convex-operator")

    // No secret in status, events or the operator's log.
    const events = kubectl.json<Json>(["events.events.k8s.io", "-n", ns])
    const visible = JSON.stringify([instance.status, events]) + operator.logTail(2000)
    for (const value of [oldSecret, oldKey, operatorKey]) expect(visible).not.toContain(value)
    expect((events?.items ?? []).map((event: Json) => event.reason)).toContain("InstanceSecretAdopted")
  }, 240_000)

  it("a missing instance secret Secret holds the backend naming the field; creating it (watched by name) goes on", async () => {
    kubectl(
      ["apply", "--server-side", "--field-manager=e2e", "-f", "-"],
      JSON.stringify({
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexInstance",
        metadata: { name: "later", namespace: ns },
        spec: { environment: "dev", version, backend: { instanceSecretRef: { name: "later-old-secret" } } }
      })
    )
    const held = await eventually(
      "SecretsReady False naming spec.backend.instanceSecretRef",
      () => {
        const condition = conditionOf(get("convexinstance", "later"), "SecretsReady")
        return condition?.status === "False" && condition.message.includes("spec.backend.instanceSecretRef")
          ? condition
          : undefined
      },
      { timeoutMillis: 60_000, detail: () => JSON.stringify(get("convexinstance", "later")?.status) }
    )
    expect(held.message).toContain('Secret "later-old-secret" does not exist')
    expect(get("statefulset", "later-backend")).toBeUndefined()
    expect(conditionOf(get("convexinstance", "later"), "Ready")).toMatchObject({ status: "False" })
    const warnings = kubectl.json<Json>([
      "events.events.k8s.io",
      "-n",
      ns,
      "--field-selector",
      "regarding.name=later,type=Warning"
    ])
    expect(JSON.stringify(warnings?.items ?? [])).toContain("spec.backend.instanceSecretRef")
    // As Convex's read_credentials.sh writes credentials/instance_secret: with `echo`, so with a newline.
    const credentials = path.join(work, "credentials-instance_secret")
    fs.writeFileSync(credentials, `${oldSecret}\n`)
    const started = Date.now()
    kubectl(["create", "secret", "generic", "later-old-secret", "-n", ns, `--from-file=INSTANCE_SECRET=${credentials}`])
    await eventually(
      `${ns}/later Ready`,
      () => (conditionOf(get("convexinstance", "later"), "Ready")?.status === "True" ? true : undefined),
      { timeoutMillis: 90_000, detail: () => JSON.stringify(get("convexinstance", "later")?.status) }
    )
    timings.push(`Secret created to Ready ${((Date.now() - started) / 1000).toFixed(1)}s`)
    expect(get("statefulset", "later-backend")?.status?.readyReplicas).toBe(1)
    const generated = get("secret", "later-convex-secrets")
    expect(decoded(generated, secretKeys.instanceSecret)).toBe(oldSecret)
    expect(verifyAdminKey(decoded(generated, secretKeys.adminKey), "later", oldSecret)).toBe(true)
  }, 180_000)
})
