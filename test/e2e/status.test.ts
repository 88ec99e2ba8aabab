/**
 * End to end: `convex-operator status` as a user runs it against the full local cluster, the operator as a separate
 * process under the generated RBAC, with three instances in different states:
 *
 * - `ready`: Ready on a bound claim, backed up once with `backup now`, with a nightly ConvexScheduledBackup;
 * - `held`: created with the pause annotation, so the operator only reports it Paused;
 * - `broken`: postgres with a database Secret that does not exist, so Ready is False (ValidationFailed) and a
 *   Warning event names the field;
 * - `upgrading`: an exportImport upgrade held at its Import step: a ValidatingAdmissionPolicy of this test denies the
 *   pods of its import Job, so the Job exists and waits (the Job controller retries the pod without counting a
 *   failure) while Export, SaveEnv and Roll are done.
 *
 * `status <name>` for each, `status` (the namespace's table), `status -A` and `-o json` are checked; the text output
 * is compared with golden files in golden/ beside this file, with times, ages and generated names masked.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { install } from "convex-operator"
import { beforeAll, describe, expect, it } from "vitest"
import { parse } from "yaml"
import { useLocalCluster } from "../integration/support.js"
import { crdPaths, repoRoot } from "../support/manifests.js"
import { cleanUpAfterFile } from "./support/clean-up.js"
import { holdJobPods } from "./support/held-job-pods.js"
import { conditionOf, eventually, type Kubectl, makeKubectl } from "./support/kube.js"
import { type OperatorProcess, startOperator } from "./support/operator-process.js"
import { operatorKubeconfig } from "./support/service-account-kubeconfig.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-e2e-status-"))
const cluster = useLocalCluster({ components: "full", crds: crdPaths }, 180_000)

let kubectl: Kubectl
let operator: OperatorProcess
const ns = "e2e-status"
const version = "0123456789abcdef0123456789abcdef01234567"
const nextVersion = "89abcdef0123456789abcdef0123456789abcdef"
let backupName = ""

// biome-ignore lint/suspicious/noExplicitAny: kubectl and CLI output, checked by the assertions
type Json = Record<string, any>

const apply = (object: unknown) =>
  kubectl(["apply", "--server-side", "--field-manager=e2e", "-f", "-"], JSON.stringify(object))
const convexInstance = (name: string, spec: object, annotations: Record<string, string> = {}) =>
  apply({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name, namespace: ns, annotations },
    spec: { environment: "dev", version, dashboard: { enabled: false }, ...spec }
  })
const instance = (name: string) => kubectl.json<Json>(["convexinstance", name, "-n", ns])
const detail = (name: string) => () =>
  `instance: ${JSON.stringify(instance(name)?.status ?? null)}\noperator log:\n${operator.logTail(15)}`

/** Runs the CLI from source (stdout is a pipe, so never a terminal: plain text). */
const cli = async (args: ReadonlyArray<string>) => {
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    [
      "--import",
      "tsx",
      "--conditions=@convex-operator/source",
      path.join(repoRoot, "packages/operator/src/main.ts"),
      ...args
    ],
    { cwd: repoRoot, env: { ...process.env, KUBECONFIG: cluster.info().kubeconfigPath }, timeout: 60_000 }
  )
  expect(stderr).toBe("")
  return stdout
}

/** The output with what changes from run to run masked: times, ages, the backup's time stamp, repeat counts. */
const mask = (text: string) =>
  text
    .replaceAll(backupName, "ready-<stamp>")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<time>")
    .replace(/\b\d+[smhd] ago\b/g, "<age> ago")
    .replace(/\bin \d+[smhd]\b/g, "in <age>")
    .replace(/\(for \d+[smhd]\)/g, "(for <age>)")
    .replace(/\(x\d+\)/g, "(x<n>)")

/** A table with its AGE and LAST-BACKUP cells masked, columns joined by one tab (their widths follow the ages). */
const maskTable = (text: string) =>
  text
    .trimEnd()
    .split("\n")
    .map((line) =>
      line
        .split(/\s+/)
        .map((cell) => (/^\d+[smhd]$/.test(cell) ? "<age>" : cell))
        .join("\t")
    )
    .join("\n")

/** Holds the upgrade of `upgrading` at its Import step: the pods of its import Job are denied (held-job-pods.ts). */
const holdImportJobPods = () =>
  holdJobPods(
    {
      name: `${ns}-hold-upgrading-import`,
      namespace: ns,
      prefix: "upgrading-import-",
      message: "the e2e status test holds the import of upgrading"
    },
    apply,
    (json) => void kubectl(["create", "--dry-run=server", "-f", "-"], json)
  )

/** The import Job of `upgrading`'s upgrade, once it exists. */
const importJob = () =>
  ((kubectl.json<Json>(["jobs", "-n", ns, "-l", "app.kubernetes.io/instance=upgrading"])?.items ?? []) as Array<Json>)
    .filter((job) => String(job.metadata.name).startsWith("upgrading-import-"))
    .at(0)

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  for (const name of [install.namespace, ns]) apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } })
  operator = await startOperator({
    kubeconfig: operatorKubeconfig(kubectl, info, work),
    logDir: work,
    args: [`--namespaces=${ns}`, "--operator-image=registry.example/convex-operator:e2e"]
  })

  await holdImportJobPods()
  convexInstance("ready", {})
  convexInstance("upgrading", { maintenance: { upgradeStrategy: "exportImport" } })
  convexInstance("held", {}, { "convex.icod.de/pause-reconciliation": "true" })
  convexInstance("broken", {
    backend: { db: { engine: "postgres", secretRef: "pg", urlKey: "url" }, storage: { mode: "external" } }
  })
  apply({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexScheduledBackup",
    metadata: { name: "nightly", namespace: ns },
    spec: { instanceRef: { name: "ready" }, schedule: "0 3 * * *", target: { pvc: {} } }
  })

  await eventually(
    "ready Ready on a bound claim",
    () =>
      conditionOf(instance("ready"), "Ready")?.status === "True" &&
      kubectl.json<Json>(["pvc", "ready-backend-pvc", "-n", ns])?.status?.phase === "Bound"
        ? true
        : undefined,
    { timeoutMillis: 90_000, detail: detail("ready") }
  )
  await eventually(
    "upgrading Ready on its first version",
    () =>
      conditionOf(instance("upgrading"), "Ready")?.status === "True" &&
      instance("upgrading")?.status?.currentVersion === version
        ? true
        : undefined,
    { timeoutMillis: 90_000, detail: detail("upgrading") }
  )
  // The upgrade runs meanwhile: Export (a pre-upgrade ConvexBackup), SaveEnv, Roll, then Import, which waits.
  convexInstance("upgrading", { version: nextVersion, maintenance: { upgradeStrategy: "exportImport" } })
  backupName = /convexbackup\/(\S+) created/.exec(await cli(["backup", "now", "ready", "-n", ns]))?.[1] ?? ""
  expect(backupName).toMatch(/^ready-\d{14}$/)
  await eventually(
    `ConvexBackup ${backupName} Completed`,
    () =>
      kubectl.json<Json>(["convexbackup", backupName, "-n", ns])?.status?.phase === "Completed" ? true : undefined,
    { timeoutMillis: 120_000, detail: detail("ready") }
  )
  await eventually(
    "upgrading at its Import step, the import Job created and waiting",
    () =>
      instance("upgrading")?.status?.upgrade?.phase === "Importing" && importJob() !== undefined ? true : undefined,
    { timeoutMillis: 180_000, detail: detail("upgrading") }
  )
  await eventually("held Paused", () => (instance("held")?.status?.phase === "Paused" ? true : undefined), {
    timeoutMillis: 30_000,
    detail: detail("held")
  })
  await eventually(
    "broken: Ready False (ValidationFailed), its Warning event, its claim bound",
    () => {
      const ready = conditionOf(instance("broken"), "Ready")
      const claim = kubectl.json<Json>(["pvc", "broken-backend-pvc", "-n", ns])
      const events = (kubectl.json<Json>([
        "events.events.k8s.io",
        "-n",
        ns,
        "--field-selector",
        "regarding.name=broken"
      ])?.items ?? []) as Array<Json>
      return ready?.reason === "ValidationFailed" &&
        claim?.status?.phase === "Bound" &&
        events.some((event) => event.type === "Warning")
        ? true
        : undefined
    },
    { timeoutMillis: 60_000, detail: detail("broken") }
  )
}, 480_000)

cleanUpAfterFile({ label: "[e2e status]", work, stop: async () => operator?.stop() })

describe("convex-operator status", () => {
  it.each(["ready", "held", "broken", "upgrading"])("status %s (golden text, plain when piped)", async (name) => {
    const output = await cli(["status", name, "-n", ns])
    expect(output).not.toContain("\u001b[")
    await expect(mask(output)).toMatchFileSnapshot(`./golden/status-${name}.txt`)
  })

  it("status lists the namespace's instances; -A adds the namespace (only this file's lines compared)", async () => {
    await expect(maskTable(await cli(["status", "-n", ns]))).toMatchFileSnapshot("./golden/status-table.txt")
    const all = (await cli(["status", "-A"])).trimEnd().split("\n")
    const ours = [all[0] ?? "", ...all.filter((line) => line.startsWith(`${ns} `))].join("\n")
    await expect(maskTable(ours)).toMatchFileSnapshot("./golden/status-all-namespaces.txt")
  })

  it("-o json and -o yaml: the same facts as data", async () => {
    const ready = JSON.parse(await cli(["status", "ready", "-n", ns, "-o", "json"])) as Json
    expect(ready.ready).toMatchObject({ type: "Ready", status: "True" })
    expect(ready.version).toEqual({ wanted: version, running: version })
    expect(ready.storage).toMatchObject({ volume: "claim", persistent: true, claim: { name: "ready-backend-pvc" } })
    expect(ready.storage.claim.phase).toBe("Bound")
    expect(ready.backups.lastSuccessful).toMatchObject({ name: backupName, phase: "Completed" })
    expect(ready.backups.lastSuccessful.location).toBe(`pvc://ready-backups/${backupName}.zip`)
    expect(ready.backups.next.schedule).toBe("nightly")
    expect(ready.backups.next.at).toMatch(/T03:00:00Z$/)
    expect(ready.restart.state).toBe("scheduled")

    const broken = JSON.parse(await cli(["status", "broken", "-n", ns, "-o", "json"])) as Json
    expect(broken.ready).toMatchObject({ status: "False", reason: "ValidationFailed" })
    expect(broken.ready.message).toContain("spec.backend.db.secretRef")
    expect(broken.conditions.map((condition: Json) => condition.type)).toContain("SecretsReady")
    expect(broken.events.length).toBeGreaterThan(0)
    expect(broken.events[0].reason).toBe("ValidationFailed")

    const held = parse(await cli(["status", "held", "-n", ns, "-o", "yaml"])) as Json
    expect(held.paused).toBe(true)
    expect(held.phase).toBe("Paused")
    expect(held.conditions.map((condition: Json) => condition.type)).toEqual(["ReconciliationPaused"])
  })

  it("an upgrade in progress: its steps done, running and to do, with the current Job", async () => {
    const upgrading = JSON.parse(await cli(["status", "upgrading", "-n", ns, "-o", "json"])) as Json
    const job = importJob()
    expect(job).toBeDefined()
    expect(upgrading.phase).toBe("Upgrading")
    expect(upgrading.version).toMatchObject({ wanted: nextVersion, running: version })
    expect(upgrading.upgrade).toMatchObject({
      strategy: "exportImport",
      from: version,
      to: nextVersion,
      phase: "Importing",
      attempt: 1
    })
    expect(upgrading.upgrade.steps).toEqual([
      { step: "Export", state: "done" },
      { step: "SaveEnv", state: "done" },
      { step: "Roll", state: "done" },
      { step: "Import", state: "running" },
      { step: "RestoreEnv", state: "to do" }
    ])
    // No pod of it could be created: the Job waits, not failed.
    expect(upgrading.upgrade.job).toEqual({ kind: "Job", name: job?.metadata.name, state: "Pending" })
    expect(upgrading.restart.state).toBe("waiting")
  })

  it("the operator's /metrics serves the per-instance families of these instances", async () => {
    // Families and label order as packages/operator/src/monitoring/instance-metrics.ts serves them (labels sorted);
    // a series without labels is its family's name alone.
    const series = (family: string, labels: Record<string, string>) =>
      Object.keys(labels).length === 0
        ? family
        : `${family}{${Object.keys(labels)
            .sort()
            .map((key) => `${key}="${labels[key]}"`)
            .join(",")}}`
    const valueIn = (text: string, family: string, labels: Record<string, string>) => {
      const start = `${series(family, labels)} `
      const line = text.split("\n").find((each) => each.startsWith(start))
      return line === undefined ? undefined : Number(line.slice(start.length))
    }
    const of = (name: string, extra: Record<string, string> = {}) => ({ namespace: ns, name, ...extra })
    const finishedAt = kubectl.json<Json>(["convexbackup", backupName, "-n", ns])?.status?.finishedAt
    expect(finishedAt).toEqual(expect.any(String))
    // The operator computes them from its caches at each scrape; its caches follow the statuses by watch.
    let last = ""
    const text = await eventually(
      "the instances' series on /metrics",
      async () => {
        const response = await fetch(operator.metricsUrl)
        const body = await response.text()
        last = `${response.status}\n${body}`
        return response.ok &&
          valueIn(body, "convex_operator_instance_ready", of("ready")) === 1 &&
          valueIn(body, "convex_operator_instance_phase", of("held", { phase: "Paused" })) === 1 &&
          valueIn(body, "convex_operator_instance_backup_last_success_timestamp_seconds", of("ready")) !== undefined
          ? body
          : undefined
      },
      {
        timeoutMillis: 30_000,
        detail: () =>
          `/metrics (the instance families):\n${last
            .split("\n")
            .filter((line) => line.includes("convex_operator_instance_"))
            .join("\n")}`
      }
    )
    const value = (family: string, labels: Record<string, string>) => valueIn(text, family, labels)

    expect(value("convex_operator_instance_ready", of("ready"))).toBe(1)
    expect(value("convex_operator_instance_ready", of("held"))).toBe(0)
    expect(value("convex_operator_instance_ready", of("broken"))).toBe(0)
    for (const [name, current] of [
      ["ready", "Ready"],
      ["held", "Paused"],
      ["broken", "Error"]
    ] as const) {
      for (const phase of ["Pending", "Ready", "Error", "Upgrading", "Paused"])
        expect(value("convex_operator_instance_phase", of(name, { phase })), `${name} phase ${phase}`).toBe(
          phase === current ? 1 : 0
        )
    }
    expect(value("convex_operator_instance_phase", of("upgrading", { phase: "Upgrading" }))).toBe(1)
    for (const step of ["Exporting", "SavingEnv", "Rolling", "Importing", "RestoringEnv", "Failed"]) {
      expect(value("convex_operator_instance_upgrade_step", of("ready", { step })), `ready step ${step}`).toBe(0)
      expect(value("convex_operator_instance_upgrade_step", of("upgrading", { step })), `upgrading step ${step}`).toBe(
        step === "Importing" ? 1 : 0
      )
    }
    expect(value("convex_operator_instance_backup_last_success_timestamp_seconds", of("ready"))).toBe(
      Date.parse(finishedAt) / 1000
    )
    expect(value("convex_operator_instance_backup_last_failed", of("ready"))).toBe(0)
    for (const name of ["held", "broken"])
      expect(value("convex_operator_instance_backup_last_success_timestamp_seconds", of(name))).toBeUndefined()
    // The nightly schedule names `ready`: a day between runs; the next restart is after now.
    expect(value("convex_operator_instance_backup_schedule_interval_seconds", of("ready"))).toBe(86_400)
    expect(value("convex_operator_instance_next_restart_timestamp_seconds", of("ready"))).toBeGreaterThan(
      Date.now() / 1000 - 60
    )
    expect(value("convex_operator_instance_next_restart_timestamp_seconds", of("held"))).toBeUndefined()
    // Beside them, the process's own figures (ProcessMetrics): its memory holds its heap, and it started this run.
    const heapUsed = value("nodejs_heap_size_used_bytes", {})
    expect(heapUsed).toBeGreaterThan(0)
    expect(value("process_resident_memory_bytes", {})).toBeGreaterThan(heapUsed ?? Number.NaN)
    expect(value("process_cpu_seconds_total", {})).toBeGreaterThan(0)
    expect(value("process_start_time_seconds", {})).toBeGreaterThan(Date.now() / 1000 - 3600)
  })

  it("a missing instance is named", async () => {
    await expect(cli(["status", "nope", "-n", ns])).rejects.toThrow(
      `ConvexInstance ${ns}/nope not found (kubectl get convexinstances -n ${ns} lists the instances there)`
    )
  })
})
