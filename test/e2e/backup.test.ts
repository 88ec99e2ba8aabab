/**
 * End to end: backups and restores on the full local cluster, the operator as a separate process under the
 * generated RBAC, kwok running Job pods (to Succeeded, or to Failed for Jobs chosen with failJobPods).
 *
 * - a ConvexScheduledBackup every minute creates a ConvexBackup on its first scheduled run (real time: up to a
 *   minute plus the Job), whose Job exports with file storage to the instance's backup claim and Completes;
 *   retention (keepLast 1) prunes older Completed backups of the schedule;
 * - a backup whose Job fails ends Failed with the reason, and the instance gets a Warning event;
 * - restore into a new instance runs its import Job (--replace-all) exactly once, and the instance is Ready after;
 * - S3: `backup store` uploads and `backup fetch` downloads a ZIP through a real SeaweedFS S3 server on loopback
 *   (signatures checked); a backup with an S3 target renders its Job to upload there;
 * - a private S3 CA that is missing, or holds no certificate, fails a backup at once naming the field (the operator
 *   reads the Secret or ConfigMap under its RBAC); a present one lets the backup go on to the interlock;
 * - `backup now` and `backup list` (table and -o json) as a user runs them.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { crdFiles } from "@convex-operator/core"
import { install } from "convex-operator"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { failJobPods } from "../cluster/failing-jobs.js"
import { type S3Server, startS3Server } from "../cluster/seaweedfs.js"
import { useLocalCluster } from "../integration/support.js"
import { repoRoot } from "../support/manifests.js"
import { cleanUpAfterFile } from "./support/clean-up.js"
import { conditionOf, eventually, type Kubectl, makeKubectl } from "./support/kube.js"
import { type OperatorProcess, startOperator } from "./support/operator-process.js"
import { operatorKubeconfig } from "./support/service-account-kubeconfig.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-e2e-backup-"))
const cluster = useLocalCluster(
  { components: "full", crds: crdFiles.map((file) => path.join(repoRoot, file.path)) },
  180_000
)

let kubectl: Kubectl
let operator: OperatorProcess
let s3: S3Server | undefined
const ns = "e2e-backup"
const operatorImage = "registry.example/convex-operator:e2e"
const version = "1111111111111111111111111111111111111111"
const timings: Array<string> = []

// biome-ignore lint/suspicious/noExplicitAny: kubectl output, checked by the assertions
type Json = Record<string, any>

const apply = (object: unknown) =>
  kubectl(["apply", "--server-side", "--field-manager=e2e", "-f", "-"], JSON.stringify(object))
/** A PersistentVolume pre-bound to a claim, on a folder the test knows. */
const volumeFor = (claim: string) =>
  apply({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: `${ns}-${claim}` },
    spec: {
      claimRef: { namespace: ns, name: claim },
      capacity: { storage: "10Gi" },
      accessModes: ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: "Retain",
      storageClassName: "",
      hostPath: { path: `/tmp/${ns}-${claim}` }
    }
  })
const convexInstance = (name: string, extra: object = {}) =>
  apply({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name, namespace: ns },
    spec: { environment: "dev", version, ...extra }
  })
const convexBackup = (name: string, instance: string, target: object, deletionPolicy = "Retain") =>
  apply({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexBackup",
    metadata: { name, namespace: ns },
    spec: { instanceRef: { name: instance }, target, deletionPolicy }
  })
const get = (kind: string, name: string) => kubectl.json<Json>([kind, name, "-n", ns])
const backups = () => kubectl.json<Json>(["convexbackups", "-n", ns])?.items ?? []
const detail = () =>
  `backups: ${JSON.stringify(backups().map((b: Json) => [b.metadata.name, b.status]))}\noperator log:\n${operator.logTail(20)}`
const phaseOf = (name: string, phases: ReadonlyArray<string>, timeoutMillis = 90_000) =>
  eventually(
    `ConvexBackup ${name} ${phases.join("/")}`,
    () => {
      const backup = get("convexbackup", name)
      return phases.includes(backup?.status?.phase) ? backup : undefined
    },
    { timeoutMillis, intervalMillis: 200, detail }
  )
const ready = (name: string) =>
  eventually(
    `${ns}/${name} Ready`,
    () => {
      const object = get("convexinstance", name)
      return conditionOf(object, "Ready")?.status === "True" ? object : undefined
    },
    {
      timeoutMillis: 90_000,
      detail: () => `${JSON.stringify(get("convexinstance", name)?.status)}\n${operator.logTail(20)}`
    }
  )
const cli = async (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      "--import",
      "tsx",
      "--conditions=@convex-operator/source",
      path.join(repoRoot, "packages/operator/src/main.ts"),
      ...args
    ],
    { cwd: repoRoot, env: { ...process.env, KUBECONFIG: cluster.info().kubeconfigPath, ...env }, timeout: 60_000 }
  )
  return stdout
}

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: install.namespace } })
  apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })
  operator = await startOperator({
    kubeconfig: operatorKubeconfig(kubectl, info, work),
    logDir: work,
    args: [`--namespaces=${ns}`, `--operator-image=${operatorImage}`]
  })
  volumeFor("app-backups")
  convexInstance("app")
  await ready("app")
}, 180_000)

afterAll(async () => {
  await s3?.stop()
})

cleanUpAfterFile({
  label: "[e2e backup]",
  work,
  stop: async () => operator?.stop(),
  summary: () => timings.join(", ")
})

describe("backups end to end", () => {
  it("a schedule every minute creates a backup on its first run, Completed by its Job; retention prunes older ones", async () => {
    // Two older Completed backups of the schedule (made as the schedule would have), for retention to prune.
    for (const old of ["nightly-202601010000", "nightly-202601010001"]) {
      kubectl(
        ["create", "-f", "-"],
        JSON.stringify({
          apiVersion: "convex.icod.de/v1alpha1",
          kind: "ConvexBackup",
          metadata: { name: old, namespace: ns, labels: { "convex.icod.de/scheduled-backup": "nightly" } },
          spec: { instanceRef: { name: "gone" }, target: { pvc: {} } }
        })
      )
      const status = {
        phase: "Completed",
        finishedAt: "2026-01-01T00:05:00Z",
        location: `pvc://gone-backups/${old}.zip`
      }
      kubectl([
        "patch",
        "convexbackup",
        old,
        "-n",
        ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        JSON.stringify({ status })
      ])
    }
    const started = Date.now()
    apply({
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexScheduledBackup",
      metadata: { name: "nightly", namespace: ns },
      spec: { instanceRef: { name: "app" }, schedule: "* * * * *", target: { pvc: {} }, retention: { keepLast: 1 } }
    })
    const created = await eventually(
      "the first scheduled ConvexBackup",
      () =>
        backups().find(
          (b: Json) => b.metadata.name.startsWith("nightly-") && !b.metadata.name.startsWith("nightly-2026010100")
        ),
      { timeoutMillis: 90_000, intervalMillis: 500, detail }
    )
    const completed = await phaseOf(created.metadata.name, ["Completed"])
    timings.push(`first scheduled run Completed after ${((Date.now() - started) / 1000).toFixed(1)}s`)
    expect(completed.spec).toMatchObject({ instanceRef: { name: "app" }, deletionPolicy: "Delete" })
    expect(completed.status.location).toBe(`pvc://app-backups/${created.metadata.name}.zip`)
    const job = get("job", `${created.metadata.name}-backup`)
    expect(job?.spec.template.spec.initContainers[0].args).toEqual([
      "snapshot",
      "export",
      "--path",
      `/backups/${created.metadata.name}.zip`,
      "--include-file-storage",
      "--record",
      `/backups/.${created.metadata.name}.export.json`
    ])
    // Once the ZIP is stored, the store step expires the backend's own copy of the export.
    expect(job?.spec.template.spec.containers[0].args).toEqual(
      expect.arrayContaining(["--expire-export", `/backups/.${created.metadata.name}.export.json`])
    )
    expect(job?.spec.template.spec.initContainers[0].image).toBe(operatorImage)
    expect(job?.metadata.ownerReferences[0]).toMatchObject({ kind: "ConvexBackup", name: created.metadata.name })
    // The claim was created for the instance and is owned by nothing (it survives everything).
    const claim = get("pvc", "app-backups")
    expect(claim?.metadata.ownerReferences).toBeUndefined()
    // Retention keeps the newest Completed one: the two older backups are deleted.
    await eventually(
      "retention pruned the older backups",
      () => (backups().some((b: Json) => b.metadata.name.startsWith("nightly-2026010100")) ? undefined : true),
      { timeoutMillis: 30_000, detail }
    )
    const schedule = get("convexscheduledbackup", "nightly")
    expect(schedule?.status).toMatchObject({ lastBackup: created.metadata.name })
    expect(conditionOf(schedule, "Scheduled")).toMatchObject({ status: "True" })
    // Suspended from here on: the next tests' backups need not queue behind one every minute.
    kubectl(["patch", "convexscheduledbackup", "nightly", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}'])
    await eventually("the schedule suspended", () =>
      conditionOf(get("convexscheduledbackup", "nightly"), "Scheduled")?.reason === "Suspended" ? true : undefined
    )
  }, 180_000)

  it("a backup whose Job fails ends Failed with the reason, and the instance gets a Warning", async () => {
    const failing = await cluster.run(failJobPods({ namespace: ns, jobNamePrefix: "broken-" }))
    try {
      // Wait until the scheduled backup above is not running (one backup per instance at a time).
      convexBackup("broken", "app", { pvc: {} })
      const failed = await phaseOf("broken", ["Failed", "Completed"], 120_000)
      expect(failed.status.phase).toBe("Failed")
      expect(failed.status.message).toContain("BackoffLimitExceeded")
      expect(conditionOf(failed, "Completed")).toMatchObject({ status: "False", reason: "BackupFailed" })
      const events = kubectl.json<Json>(["events.events.k8s.io", "-n", ns, "--field-selector", "regarding.name=app"])
      expect((events?.items ?? []).map((e: Json) => `${e.type}/${e.reason}`)).toContain("Warning/BackupFailed")
    } finally {
      await cluster.run(failing.stop)
    }
  }, 150_000)

  it("restore into a new instance runs its import Job exactly once, then the instance is Ready", async () => {
    convexBackup("manual", "app", { pvc: {} })
    await phaseOf("manual", ["Completed"], 120_000)
    const started = Date.now()
    convexInstance("restored", { restore: { from: { backup: "manual" } } })
    const restored = await ready("restored")
    timings.push(`restore to Ready ${((Date.now() - started) / 1000).toFixed(1)}s`)
    expect(restored.status.restore).toMatchObject({
      phase: "Succeeded",
      source: "backup/manual",
      job: "restored-restore"
    })
    expect(conditionOf(restored, "RestoreCompleted")).toMatchObject({ status: "True" })
    const job = get("job", "restored-restore")
    expect(job?.spec.template.spec.containers[0].args).toEqual([
      "snapshot",
      "import",
      "--path",
      "/backups/manual.zip",
      "--replace-all"
    ])
    const uid = job?.metadata.uid
    // Reconciles go on (touch the instance): the same Job, one pod, no second import.
    kubectl(["annotate", "convexinstance", "restored", "-n", ns, "e2e/touch=1", "--overwrite"])
    await new Promise((resolve) => setTimeout(resolve, 3000))
    expect(get("job", "restored-restore")?.metadata.uid).toBe(uid)
    const pods = kubectl.json<Json>(["pods", "-n", ns, "-l", "batch.kubernetes.io/job-name=restored-restore"])
    expect(pods?.items).toHaveLength(1)
    // Restoring over an existing instance is refused at admission.
    expect(() => convexInstance("app", { restore: { from: { backup: "manual" } } })).toThrow(
      "spec.restore can only be set when the instance is created"
    )
  }, 180_000)

  it("S3: store uploads and fetch downloads through a real SeaweedFS server; an S3 backup's Job uploads there", async () => {
    const started = Date.now()
    s3 = await startS3Server()
    timings.push(`SeaweedFS up in ${((Date.now() - started) / 1000).toFixed(1)}s`)
    const zip = path.join(work, "snapshot.zip")
    fs.writeFileSync(zip, Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251)))
    const credentials = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey }
    const flags = [
      "--s3-bucket",
      s3.bucket,
      "--s3-key",
      "e2e/app/snapshot.zip",
      "--s3-endpoint",
      s3.endpoint,
      "--s3-force-path-style"
    ]
    const report = await cli(
      [
        "backup",
        "store",
        "--file",
        zip,
        "--location",
        "s3://backups/e2e/app/snapshot.zip",
        "--termination-log",
        path.join(work, "term"),
        ...flags
      ],
      credentials
    )
    // The report is the last line (log lines come first).
    const lastLine = report.trim().split("\n").at(-1) ?? ""
    expect(JSON.parse(lastLine)).toEqual({ sizeBytes: 300_000, location: "s3://backups/e2e/app/snapshot.zip" })
    expect(fs.readFileSync(path.join(work, "term"), "utf8")).toBe(lastLine)
    const back = path.join(work, "back.zip")
    await cli(["backup", "fetch", "--file", back, ...flags], credentials)
    expect(fs.readFileSync(back).equals(fs.readFileSync(zip))).toBe(true)
    // A wrong secret is refused by the server (signatures are checked, not ignored).
    await expect(
      cli(["backup", "fetch", "--file", `${back}.2`, ...flags], { ...credentials, AWS_SECRET_ACCESS_KEY: "wrong" })
    ).rejects.toThrow("SignatureDoesNotMatch")

    // backup remove deletes the object (a removal Job's step): fetching it fails afterwards.
    await cli(["backup", "remove", ...flags], credentials)
    await expect(cli(["backup", "fetch", "--file", `${back}.3`, ...flags], credentials)).rejects.toThrow("NoSuchKey")

    kubectl([
      "create",
      "secret",
      "generic",
      "s3",
      "-n",
      ns,
      `--from-literal=AWS_ACCESS_KEY_ID=${s3.accessKeyId}`,
      `--from-literal=AWS_SECRET_ACCESS_KEY=${s3.secretAccessKey}`
    ])
    convexBackup(
      "to-s3",
      "app",
      {
        s3: { bucket: s3.bucket, prefix: "e2e", endpoint: s3.endpoint, forcePathStyle: true, secretRef: { name: "s3" } }
      },
      "Delete"
    )
    const completed = await phaseOf("to-s3", ["Completed"], 120_000)
    expect(completed.status.location).toBe(`s3://${s3.bucket}/e2e/${ns}/app/to-s3.zip`)
    const store = get("job", "to-s3-backup")?.spec.template.spec.containers[0]
    expect(store.args).toEqual(
      expect.arrayContaining(["store", "--s3-endpoint", s3.endpoint, "--s3-key", `e2e/${ns}/app/to-s3.zip`])
    )
    // The backend (to expire its copy of the export) with the generated admin key, and the bucket credentials.
    expect(store.env.map((e: Json) => e.value ?? e.valueFrom.secretKeyRef.name)).toEqual([
      `http://app-backend.${ns}.svc:3210`,
      "app-convex-secrets",
      "s3",
      "s3"
    ])
    // Deleting a backup with deletionPolicy Delete runs its removal Job first (kwok completes it), then it goes.
    expect(completed.metadata.finalizers).toContain("convex.icod.de/backup-data")
    kubectl(["delete", "convexbackup", "to-s3", "-n", ns, "--wait=false"])
    const removal = await eventually("the removal Job", () => get("job", "to-s3-remove"), {
      timeoutMillis: 30_000,
      detail
    })
    expect(removal.spec.template.spec.containers[0].args).toEqual(
      expect.arrayContaining(["remove", "--s3-key", `e2e/${ns}/app/to-s3.zip`])
    )
    await eventually("to-s3 deleted", () => (get("convexbackup", "to-s3") === undefined ? true : undefined), {
      timeoutMillis: 60_000,
      detail
    })
  }, 240_000)

  it("a backup whose private S3 CA is missing or holds no certificate fails at once, naming the field", async () => {
    kubectl(["create", "secret", "generic", "ca-creds", "-n", ns, "--from-literal=AWS_ACCESS_KEY_ID=id"])
    kubectl(["patch", "secret", "ca-creds", "-n", ns, "-p", '{"stringData":{"AWS_SECRET_ACCESS_KEY":"s"}}'])
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    kubectl(["create", "secret", "generic", "bad-ca", "-n", ns, "--from-literal=ca.crt=no certificate here"])
    kubectl(["create", "secret", "generic", "good-ca", "-n", ns, `--from-literal=ca.crt=${pem}`])
    const target = (ca: object) => ({
      s3: { bucket: "backups", endpoint: "https://minio.example:9000", secretRef: { name: "ca-creds" }, ...ca }
    })
    // Of an instance that does not exist: the CA is checked before the interlock, which then waits.
    convexBackup("ca-missing", "no-such-instance", target({ caConfigMapRef: "absent-ca" }))
    convexBackup("ca-not-pem", "no-such-instance", target({ caSecretRef: "bad-ca" }))
    convexBackup("ca-good", "no-such-instance", target({ caSecretRef: "good-ca" }))
    const missing = await phaseOf("ca-missing", ["Failed"])
    expect(missing.status.message).toContain('spec.target.s3.caConfigMapRef: ConfigMap "absent-ca" does not exist')
    expect(missing.status.job).toBeUndefined()
    const notPem = await phaseOf("ca-not-pem", ["Failed"])
    expect(notPem.status.message).toContain(
      'spec.target.s3.caSecretRef: Secret "bad-ca" key "ca.crt" holds no PEM certificate'
    )
    expect(notPem.status.message).not.toContain("no certificate here")
    const good = await phaseOf("ca-good", ["Pending"])
    expect(conditionOf(good, "Completed")).toMatchObject({ reason: "InstanceNotFound" })
  }, 120_000)

  it("backup now and backup list, as a user runs them", async () => {
    const created = await cli(["backup", "now", "app", "-n", ns])
    const name = /convexbackup\/(\S+) created/.exec(created)?.[1] ?? ""
    expect(name).toMatch(/^app-\d{14}$/)
    await phaseOf(name, ["Completed"], 120_000)
    const table = await cli(["backup", "list", "-n", ns])
    expect(table.split("\n")[0]?.split(/\s{2,}/)).toEqual(["NAME", "INSTANCE", "PHASE", "SIZE", "LOCATION", "AGE"])
    expect(table).toMatch(new RegExp(`${name}\\s+app\\s+Completed\\s+pvc://app-backups/${name}\\.zip`))
    const json = JSON.parse(await cli(["backup", "list", "-A", "-o", "json"])) as Json
    expect(json.items.map((item: Json) => item.metadata.name)).toContain(name)
    const columns = kubectl(["get", "convexbackup", name, "-n", ns])
      .split("\n")[0]
      ?.split(/\s{2,}/)
    expect(columns).toEqual(["NAME", "INSTANCE", "PHASE", "SIZE", "AGE"])
  }, 150_000)
})
