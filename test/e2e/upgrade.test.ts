/**
 * End to end: upgrades of a Ready instance on the full local cluster, the operator as a separate process under
 * the generated RBAC. Changing `spec.version` runs the core upgrade plan through the operator: the export is a
 * ConvexBackup (labelled with the upgrade's hash) whose Job the backup controller runs with the operator's own image
 * (`--operator-image`) and `snapshot export` arguments; for exportImport the import Job reads the ZIP that backup
 * recorded. kwok runs the Job pods to completion, and the status walks through UpgradeInProgress / ExportCompleted /
 * ImportCompleted and phase Upgrading back to Ready on the new version. A failed pre-upgrade backup (its Job's pods
 * failed by kwok, test/cluster/failing-jobs.ts) stops the upgrade before the roll with phase Error, and setting the
 * version back recovers. An operator stopped in Exporting and started again after the backup's Job finished resumes
 * from the status and creates no second backup (the claim binds on the PV binder's next sync, so that test takes
 * about half a minute). A version whose backend pod never becomes Ready (kwok holds it, test/cluster/never-ready-
 * pods.ts) is rolled back by setting the version back: the operator deletes the pod the reverted StatefulSet would
 * wait for forever, once, and records a ForcedRollback event.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { install } from "convex-operator"
import { beforeAll, describe, expect, it } from "vitest"
import { failJobPods } from "../cluster/failing-jobs.js"
import { holdPodsNotReady } from "../cluster/never-ready-pods.js"
import { useLocalCluster } from "../integration/support.js"
import { crdPaths } from "../support/manifests.js"
import { cleanUpAfterFile } from "./support/clean-up.js"
import { conditionOf, eventually, type Kubectl, makeKubectl } from "./support/kube.js"
import { type OperatorProcess, startOperator } from "./support/operator-process.js"
import { operatorKubeconfig } from "./support/service-account-kubeconfig.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-e2e-upgrade-"))
const cluster = useLocalCluster({ components: "full", crds: crdPaths }, 180_000)

let kubectl: Kubectl
let operator: OperatorProcess
let operatorConfig: string
const ns = "e2e-upgrade"
const operatorImage = "registry.example/convex-operator:e2e"
const v1 = "1111111111111111111111111111111111111111"
const v2 = "2222222222222222222222222222222222222222"
const timings: Array<string> = []

// biome-ignore lint/suspicious/noExplicitAny: kubectl output, checked by the assertions
type Json = Record<string, any>

const apply = (object: unknown) =>
  kubectl(["apply", "--server-side", "--field-manager=e2e", "-f", "-"], JSON.stringify(object))
const namespace = (name: string) => apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } })
/** A PersistentVolume for the backup claim of `instance`, on a folder the test knows. */
const backupVolume = (instance: string) =>
  apply({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: `${ns}-${instance}-backups` },
    spec: {
      claimRef: { namespace: ns, name: `${instance}-backups` },
      capacity: { storage: "10Gi" },
      accessModes: ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: "Retain",
      storageClassName: "",
      hostPath: { path: `/tmp/${ns}-${instance}-backups` }
    }
  })
const convexInstance = (
  name: string,
  version: string,
  strategy: "inPlace" | "exportImport",
  extra: { readonly spec?: Json; readonly annotations?: Record<string, string> } = {}
) =>
  apply({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name, namespace: ns, ...(extra.annotations !== undefined ? { annotations: extra.annotations } : {}) },
    spec: { environment: "dev", version, maintenance: { upgradeStrategy: strategy }, ...extra.spec }
  })
const instance = (name: string) => kubectl.json<Json>(["convexinstance", name, "-n", ns])
const detail = (name: string) => () =>
  `instance: ${JSON.stringify(instance(name)?.status ?? null)}\noperator log:\n${operator.logTail(15)}`

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  namespace(install.namespace)
  namespace(ns)
  operatorConfig = operatorKubeconfig(kubectl, cluster.info(), work)
  operator = await runOperator()
}, 120_000)

const runOperator = () =>
  startOperator({
    kubeconfig: operatorConfig,
    logDir: work,
    args: [`--namespaces=${ns}`, `--operator-image=${operatorImage}`]
  })

cleanUpAfterFile({
  label: "[e2e upgrade]",
  work,
  stop: async () => operator?.stop(),
  summary: () => timings.join(", ")
})

const jobKinds = ["export", "env-save", "import", "env-restore"] as const
type JobKind = (typeof jobKinds)[number]
const instanceJobs = (name: string): ReadonlyArray<Json> =>
  kubectl.json<Json>(["jobs", "-n", ns, "-l", `app.kubernetes.io/instance=${name}`])?.items ?? []
/** The snapshot subcommand a Job runs: its export init container's (a backup Job), else its container's. */
const kindOf = (j: Json): string | undefined =>
  (j.spec?.template?.spec?.initContainers?.[0]?.args ?? j.spec?.template?.spec?.containers?.[0]?.args ?? [])[1]
/** The Jobs of the instance: its own, and those of its backups (labelled with the instance, not owned by it). */
const allJobs = (name: string): ReadonlyArray<Json> => [
  ...instanceJobs(name),
  ...(kubectl.json<Json>(["jobs", "-n", ns, "-l", `convex.icod.de/instance=${name}`])?.items ?? [])
]
const job = (name: string, kind: JobKind) => allJobs(name).find((j) => kindOf(j) === kind)
/** The pre-upgrade ConvexBackups of the instance. */
const preUpgradeBackups = (name: string): ReadonlyArray<Json> =>
  (kubectl.json<Json>(["convexbackups", "-n", ns, "-l", "convex.icod.de/upgrade-hash"])?.items ?? []).filter(
    (backup: Json) => backup.spec.instanceRef.name === name
  )

/** The reasons of the instance's upgrade events (one per step), oldest first. */
const upgradeEvents = (name: string): ReadonlyArray<string> =>
  (kubectl.json<Json>(["events.v1.events.k8s.io", "-n", ns])?.items ?? [])
    .filter((e: Json) => e.regarding?.kind === "ConvexInstance" && e.regarding?.name === name && e.action === "Upgrade")
    .sort((a: Json, b: Json) =>
      String(a.eventTime ?? a.metadata.creationTimestamp).localeCompare(
        String(b.eventTime ?? b.metadata.creationTimestamp)
      )
    )
    .map((e: Json) => e.reason)

/** Watches the instance until `until` holds, recording every distinct (phase, UpgradeInProgress reason). */
const follow = async (name: string, until: (object: Json) => boolean, timeoutMillis = 90_000) => {
  const seen: Array<string> = []
  const jobs: Partial<Record<JobKind, Json>> = {}
  const object = await eventually(
    `${ns}/${name}: upgrade finished`,
    () => {
      const current = instance(name)
      if (current === undefined) return undefined
      const step = `${current.status?.phase}/${conditionOf(current, "UpgradeInProgress")?.reason ?? "-"}`
      if (seen[seen.length - 1] !== step) seen.push(step)
      // Jobs belong to the upgrade: decide deletes them once it is done, so keep the last state seen.
      // One list per poll (a step's Job may exist for only a few seconds).
      const listed = allJobs(name)
      for (const kind of jobKinds) {
        const found = listed.find((j) => kindOf(j) === kind)
        if (found !== undefined) jobs[kind] = found
      }
      return until(current) ? current : undefined
    },
    { timeoutMillis, intervalMillis: 100, detail: detail(name) }
  )
  return { object, seen, jobs }
}

const readyOn = (version: string) => (object: Json) =>
  object.status?.phase === "Ready" &&
  conditionOf(object, "Ready")?.status === "True" &&
  object.status?.currentVersion === version &&
  conditionOf(object, "UpgradeInProgress")?.reason === "UpToDate"

const upgrade = async (name: string, strategy: "inPlace" | "exportImport") => {
  const started = Date.now()
  backupVolume(name)
  convexInstance(name, v1, strategy)
  await follow(name, readyOn(v1))
  expect(job(name, "export")).toBeUndefined()

  convexInstance(name, v2, strategy)
  const { object, seen, jobs } = await follow(name, readyOn(v2))
  console.log(`[e2e upgrade] ${strategy}: ${seen.join(" → ")}`)
  timings.push(`${strategy}: ${((Date.now() - started) / 1000).toFixed(1)}s`)

  // The export ran as the Job of a ConvexBackup labelled with the upgrade, kept after the upgrade.
  const [backup, ...more] = preUpgradeBackups(name)
  expect(more).toEqual([])
  expect(backup?.status?.phase).toBe("Completed")
  expect(backup?.status?.location).toBe(`pvc://${name}-backups/${backup?.metadata.name}.zip`)
  expect(backup?.metadata.ownerReferences).toBeUndefined()
  expect(object.status?.upgrade).toBeUndefined()
  const exported = jobs.export
  expect(exported?.metadata.ownerReferences?.[0]).toMatchObject({ kind: "ConvexBackup", name: backup?.metadata.name })
  const container = exported?.spec.template.spec.initContainers[0]
  expect(container.image).toBe(operatorImage)
  expect(container.args.slice(0, 3)).toEqual(["snapshot", "export", "--path"])
  expect(container.args).toContain("--include-file-storage")
  expect(container.env.map((e: Json) => e.name)).toEqual(["CONVEX_SELF_HOSTED_URL", "CONVEX_SELF_HOSTED_ADMIN_KEY"])
  expect(container.env[1].valueFrom.secretKeyRef).toBeDefined()
  // Steps can pass faster than the status is polled: the events record each one.
  expect(upgradeEvents(name)).toContain("Exporting")
  // The plan advances only once the backup is Completed.
  expect(conditionOf(object, "ExportCompleted")).toMatchObject({ status: "True", reason: "Succeeded" })
  expect(conditionOf(object, "ExportCompleted")?.message).toContain(backup?.metadata.name)

  const statefulSet = kubectl.json<Json>(["statefulset", `${name}-backend`, "-n", ns])
  expect(statefulSet?.spec.template.spec.containers[0].image).toBe(`ghcr.io/get-convex/convex-backend:${v2}`)
  return { object, seen, jobs }
}

describe("upgrades end to end", () => {
  it("inPlace: pre-upgrade ConvexBackup, roll, Ready on the new version; nothing imported", async () => {
    const { object, seen, jobs } = await upgrade("inplace", "inPlace")
    expect(jobs.import).toBeUndefined()
    expect(conditionOf(object, "ImportCompleted")).toMatchObject({ status: "False", reason: "NotRequired" })
    expect(seen.at(-1)).toBe("Ready/UpToDate")
  }, 180_000)

  it("exportImport: export, env-save, roll onto a fresh claim, import with --replace-all, env-restore, Ready on the new version", async () => {
    const { object, seen, jobs } = await upgrade("exim", "exportImport")
    // Steps can pass faster than the status is polled: the events record each one.
    expect(upgradeEvents("exim")).toEqual(
      expect.arrayContaining(["Exporting", "SavingEnv", "Rolling", "Importing", "RestoringEnv", "UpgradeCompleted"])
    )
    const order = upgradeEvents("exim").filter((reason) =>
      ["Exporting", "SavingEnv", "Rolling", "Importing", "RestoringEnv", "UpgradeCompleted"].includes(reason)
    )
    expect(order).toEqual(["Exporting", "SavingEnv", "Rolling", "Importing", "RestoringEnv", "UpgradeCompleted"])
    const hash = (jobs.import?.metadata.name ?? "").split("-").at(-1)
    // The import reads the ZIP of the pre-upgrade backup from its claim.
    const [backup] = preUpgradeBackups("exim")
    expect(jobs.import?.spec.template.spec.containers[0].args).toEqual([
      "snapshot",
      "import",
      "--path",
      `/backups/${backup?.metadata.name}.zip`,
      "--replace-all"
    ])
    expect(jobs.import?.spec.template.spec.volumes[0].persistentVolumeClaim.claimName).toBe("exim-backups")
    for (const kind of ["env-save", "env-restore"] as const) {
      const pod = jobs[kind]?.spec.template.spec
      expect(pod?.serviceAccountName).toBe("exim-snapshot-env")
      expect(pod?.containers[0].args).toEqual(["snapshot", kind, "--secret", `exim-env-${hash}`, "--namespace", ns])
    }
    expect(conditionOf(object, "ImportCompleted")).toMatchObject({ status: "True", reason: "Succeeded" })
    expect(seen.at(-1)).toBe("Ready/UpToDate")
    // The new version runs on a fresh claim; the old claim keeps the old version's data, named in the status.
    expect(object.status?.dataClaims).toEqual({ current: "exim-backend-pvc-g2", retained: ["exim-backend-pvc"] })
    const volumes = kubectl.json<Json>(["statefulset", "exim-backend", "-n", ns])?.spec.template.spec.volumes ?? []
    expect(volumes.find((v: Json) => v.name === "data")?.persistentVolumeClaim?.claimName).toBe("exim-backend-pvc-g2")
    for (const claim of ["exim-backend-pvc", "exim-backend-pvc-g2"]) {
      const pvc = kubectl.json<Json>(["pvc", claim, "-n", ns])
      expect(pvc?.metadata.name, claim).toBe(claim)
      expect(pvc?.metadata.deletionTimestamp, claim).toBeUndefined()
    }
    // The env Jobs' ServiceAccount and Role go with the upgrade.
    await eventually("the env access objects to go", () =>
      kubectl.json<Json>(["role", "exim-snapshot-env", "-n", ns]) === undefined ? true : undefined
    )
  }, 180_000)

  it("a failed export stops the upgrade before the roll (phase Error); setting the version back recovers", async () => {
    const name = "failing"
    backupVolume(name)
    convexInstance(name, v1, "inPlace")
    await follow(name, readyOn(v1))
    // kwok fails every pod of this instance's pre-upgrade backup Jobs (see "Failing Jobs on purpose" in
    // test/cluster/README.md).
    const failing = await cluster.run(failJobPods({ namespace: ns, jobNamePrefix: `${name}-pre-upgrade-` }))
    convexInstance(name, v2, "inPlace")
    // Each attempt is a ConvexBackup; the operator tries three times, 10 s and 20 s apart, then stops.
    const { object, seen } = await follow(name, (o) => conditionOf(o, "UpgradeInProgress")?.reason === "UpgradeFailed")
    expect(seen).toContain("Upgrading/AttemptFailed")
    await cluster.run(failing.stop)
    console.log(
      `[e2e upgrade] failed: ${JSON.stringify({ phase: object.status?.phase, upgrade: object.status?.upgrade })}`
    )
    expect(object.status?.phase).toBe("Error")
    expect(object.status?.upgrade).toMatchObject({ phase: "Failed", failedStep: "Export", attempt: 3 })
    expect(conditionOf(object, "UpgradeInProgress")?.message).toContain(
      "the pre-upgrade backup failed (attempt 3 of 3)"
    )
    expect(conditionOf(object, "ExportCompleted")).toMatchObject({ status: "False", reason: "Failed" })
    // Three failed backups, all kept.
    expect(preUpgradeBackups(name).map((backup) => backup.status?.phase)).toEqual(["Failed", "Failed", "Failed"])
    // Export failure means no roll: the backend still runs the old image.
    const statefulSet = kubectl.json<Json>(["statefulset", `${name}-backend`, "-n", ns])
    expect(statefulSet?.spec.template.spec.containers[0].image).toBe(`ghcr.io/get-convex/convex-backend:${v1}`)

    convexInstance(name, v1, "inPlace")
    const back = await follow(name, readyOn(v1))
    expect(back.object.status?.upgrade).toBeUndefined()
  }, 240_000)

  it("exportImport stops traffic; a failed import ends in Error, keeps the backup, and the retry annotation completes it", async () => {
    const name = "exim-retry"
    const started = Date.now()
    const ingressSpec = {
      networking: { mode: "ingress", host: "api.exim.example.com", dashboardHost: "dash.exim.example.com" }
    }
    backupVolume(name)
    convexInstance(name, v1, "exportImport", { spec: ingressSpec })
    await follow(name, readyOn(v1))
    const ingress = () => kubectl.json<Json>(["ingress", `${name}-ingress`, "-n", ns])
    const dashboard = () => kubectl.json<Json>(["deployment", `${name}-dashboard`, "-n", ns])
    expect(ingress()).toBeDefined()
    expect(dashboard()?.spec.replicas).toBe(1)

    // kwok fails every pod of this instance's import Jobs.
    const failing = await cluster.run(failJobPods({ namespace: ns, jobNamePrefix: `${name}-import-` }))
    convexInstance(name, v2, "exportImport", { spec: ingressSpec })
    const { object: failed } = await follow(name, (o) => o.status?.upgrade?.phase === "Failed")
    console.log(`[e2e upgrade] failed import: ${JSON.stringify(failed.status?.upgrade)}`)
    expect(failed.status?.phase).toBe("Error")
    expect(failed.status?.upgrade).toMatchObject({ failedStep: "Import", attempt: 3, maxAttempt: 3 })
    expect(conditionOf(failed, "UpgradeInProgress")?.reason).toBe("UpgradeFailed")
    expect(conditionOf(failed, "UpgradeInProgress")?.message).toContain("the import Job failed (attempt 3 of 3)")
    expect(conditionOf(failed, "UpgradeInProgress")?.message).toContain("convex.icod.de/retry-upgrade")
    expect(conditionOf(failed, "ImportCompleted")).toMatchObject({ status: "False", reason: "Failed" })
    // Traffic is stopped: no Ingress, the dashboard scaled to 0; the backend runs the new version.
    expect(ingress()).toBeUndefined()
    expect(dashboard()?.spec.replicas).toBe(0)
    expect(conditionOf(failed, "DashboardReady")?.reason).toBe("TrafficStopped")
    expect(conditionOf(failed, "HTTPRouteReady")?.reason).toBe("TrafficStopped")
    const statefulSet = kubectl.json<Json>(["statefulset", `${name}-backend`, "-n", ns])
    expect(statefulSet?.spec.template.spec.containers[0].image).toBe(`ghcr.io/get-convex/convex-backend:${v2}`)
    // The pre-upgrade backup is kept, and named in the status; the failed Job stays for its logs.
    const backupName = failed.status?.upgrade?.backup
    expect(backupName).toMatch(new RegExp(`^${name}-pre-upgrade-[0-9a-f]+-1$`))
    expect(kubectl.json<Json>(["convexbackup", backupName, "-n", ns])?.status?.phase).toBe("Completed")
    expect(job(name, "import")?.status?.failed).toBe(1)
    // The env Jobs' ServiceAccount may read and write exactly the saved-env Secret.
    const savedEnv = failed.status?.upgrade?.savedEnvSecret
    const account = `system:serviceaccount:${ns}:${name}-snapshot-env`
    const canI = (verb: string, secret: string) => {
      // kubectl auth can-i answers "no" with exit code 1.
      try {
        return kubectl(["auth", "can-i", verb, `secrets/${secret}`, "-n", ns, `--as=${account}`]).trim()
      } catch {
        return "no"
      }
    }
    for (const verb of ["get", "create", "patch"]) expect(canI(verb, savedEnv)).toBe("yes")
    expect(canI("get", `${name}-convex-secrets`)).toBe("no")
    expect(canI("delete", savedEnv)).toBe("no")

    // The same failure again: nothing happens until the annotation gets a value.
    await cluster.run(failing.stop)
    convexInstance(name, v2, "exportImport", {
      spec: ingressSpec,
      annotations: { "convex.icod.de/retry-upgrade": "1" }
    })
    const { object: done, seen } = await follow(name, readyOn(v2))
    console.log(`[e2e upgrade] retried: ${seen.join(" → ")}`)
    timings.push(`failed import + retry: ${((Date.now() - started) / 1000).toFixed(1)}s`)
    expect(done.status?.upgrade).toBeUndefined()
    expect(conditionOf(done, "ImportCompleted")).toMatchObject({ status: "True", reason: "Succeeded" })
    expect(upgradeEvents(name)).toEqual(expect.arrayContaining(["AttemptFailed", "UpgradeFailed", "RestoringEnv"]))
    // Traffic is back.
    await eventually("the Ingress and dashboard back", () =>
      ingress() !== undefined && dashboard()?.spec.replicas === 1 ? true : undefined
    )
    expect(kubectl.json<Json>(["convexbackup", backupName, "-n", ns])?.status?.phase).toBe("Completed")
  }, 240_000)

  it("a failed exportImport import, rolled back, runs the old version on the old claim; the fresh claim is retained", async () => {
    const name = "exim-back"
    const started = Date.now()
    const claimOf = () =>
      (kubectl.json<Json>(["statefulset", `${name}-backend`, "-n", ns])?.spec.template.spec.volumes ?? []).find(
        (v: Json) => v.name === "data"
      )?.persistentVolumeClaim?.claimName
    backupVolume(name)
    convexInstance(name, v1, "exportImport")
    await follow(name, readyOn(v1))
    expect(claimOf()).toBe(`${name}-backend-pvc`)
    // kwok fails every pod of this instance's import Jobs.
    const failing = await cluster.run(failJobPods({ namespace: ns, jobNamePrefix: `${name}-import-` }))
    try {
      convexInstance(name, v2, "exportImport")
      const { object: failed } = await follow(name, (o) => o.status?.upgrade?.phase === "Failed")
      expect(failed.status?.upgrade).toMatchObject({ failedStep: "Import", dataClaim: `${name}-backend-pvc-g2` })
      // The new version runs on the fresh claim; the old claim is untouched.
      expect(claimOf()).toBe(`${name}-backend-pvc-g2`)
    } finally {
      await cluster.run(failing.stop)
    }

    // Back to v1: the old version on the old claim, the fresh one retained and named in the status.
    convexInstance(name, v1, "exportImport")
    const { object } = await follow(name, readyOn(v1))
    timings.push(`failed exportImport rolled back: ${((Date.now() - started) / 1000).toFixed(1)}s`)
    expect(object.status?.upgrade).toBeUndefined()
    expect(object.status?.dataClaims).toEqual({ current: `${name}-backend-pvc`, retained: [`${name}-backend-pvc-g2`] })
    expect(claimOf()).toBe(`${name}-backend-pvc`)
    const pod = kubectl.json<Json>(["pod", `${name}-backend-0`, "-n", ns])
    expect(pod?.spec.containers[0].image).toBe(`ghcr.io/get-convex/convex-backend:${v1}`)
    expect(pod?.spec.volumes.find((v: Json) => v.name === "data")?.persistentVolumeClaim?.claimName).toBe(
      `${name}-backend-pvc`
    )
    for (const claim of [`${name}-backend-pvc`, `${name}-backend-pvc-g2`]) {
      expect(kubectl.json<Json>(["pvc", claim, "-n", ns])?.metadata.name, claim).toBe(claim)
    }
  }, 240_000)

  it("rolls back after the roll when the new version's pod never becomes Ready: the operator deletes that pod once", async () => {
    const name = "rollback"
    const started = Date.now()
    const spec = { maintenance: { upgradeStrategy: "inPlace", preUpgradeBackup: { enabled: false } } }
    convexInstance(name, v1, "inPlace", { spec })
    await follow(name, readyOn(v1))
    const pod = () => kubectl.json<Json>(["pod", `${name}-backend-0`, "-n", ns])
    const podReady = (p: Json | undefined) =>
      p?.status?.conditions?.find((c: Json) => c.type === "Ready")?.status === "True"
    // kwok keeps every new pod of the v2 backend image running but not Ready (see "Pods that never become Ready" in
    // test/cluster/README.md): a version whose backend never answers its readiness probe.
    const held = await cluster.run(
      holdPodsNotReady({ namespace: ns, image: `ghcr.io/get-convex/convex-backend:${v2}` })
    )
    try {
      convexInstance(name, v2, "inPlace", { spec })
      const stuck = await eventually(
        "the v2 backend pod, running and not Ready",
        () => {
          const current = pod()
          return current?.spec.containers[0].image === `ghcr.io/get-convex/convex-backend:${v2}` &&
            current.status?.phase === "Running" &&
            !podReady(current)
            ? current
            : undefined
        },
        { timeoutMillis: 60_000, detail: detail(name) }
      )
      expect(instance(name)?.status?.upgrade).toMatchObject({ phase: "Rolling" })

      // Back to v1: the template is reverted, and the StatefulSet alone would wait for the v2 pod forever.
      convexInstance(name, v1, "inPlace", { spec })
      const { object } = await follow(name, readyOn(v1))
      timings.push(`forced rollback: ${((Date.now() - started) / 1000).toFixed(1)}s`)
      expect(object.status?.upgrade).toBeUndefined()
      const replaced = pod()
      expect(replaced?.metadata.uid).not.toBe(stuck.metadata.uid)
      expect(replaced?.spec.containers[0].image).toBe(`ghcr.io/get-convex/convex-backend:${v1}`)
      expect(podReady(replaced)).toBe(true)
      const rollbacks = (kubectl.json<Json>(["events.v1.events.k8s.io", "-n", ns])?.items ?? []).filter(
        (e: Json) => e.regarding?.name === name && e.reason === "ForcedRollback"
      )
      expect(rollbacks).toHaveLength(1)
      expect(rollbacks[0].series).toBeUndefined()
      expect(rollbacks[0].note).toContain(`deleted pod ${name}-backend-0`)
      expect(rollbacks[0].note).toContain(stuck.metadata.labels["controller-revision-hash"])
    } finally {
      await cluster.run(held.stop)
    }
  }, 180_000)

  it("an operator restarted mid-upgrade resumes at its step without a second pre-upgrade backup", async () => {
    const name = "resumed"
    convexInstance(name, v1, "inPlace")
    await follow(name, readyOn(v1))
    convexInstance(name, v2, "inPlace")
    // Without a volume for the backup claim the backup's Job waits: stop the operator in Exporting.
    const exporting = await eventually("the export Job", () => job(name, "export"), { detail: detail(name) })
    expect(instance(name)?.status?.upgrade?.phase).toBe("Exporting")
    expect(await operator.stop()).toBe(0)

    // While no operator runs, the Job completes.
    backupVolume(name)
    // The claim binds to the new volume (PV controller), the scheduler places the waiting pod, kwok completes it and
    // the Job controller counts it: cluster components only, and slow on a loaded machine, so the detail shows
    // which of them has not acted yet.
    await eventually(
      "the export Job to succeed",
      () => (job(name, "export")?.status?.succeeded === 1 ? true : undefined),
      {
        timeoutMillis: 90_000,
        detail: () => {
          const claim = kubectl.json<Json>(["pvc", `${name}-backups`, "-n", ns])
          const pods = kubectl.json<Json>(["pods", "-n", ns, "-l", `job-name=${job(name, "export")?.metadata.name}`])
          return [
            `job: ${JSON.stringify(job(name, "export")?.status ?? null)}`,
            `claim: ${JSON.stringify(claim?.status ?? null)} volume ${claim?.spec?.volumeName ?? "-"}`,
            ...(pods?.items ?? []).map(
              (pod: Json) =>
                `pod ${pod.metadata.name}: node ${pod.spec.nodeName ?? "-"} ${JSON.stringify(pod.status?.conditions ?? [])}`
            )
          ].join("\n")
        }
      }
    )
    operator = await runOperator()
    const uids = new Set<string>()
    const { object } = await follow(name, (current) => {
      const found = job(name, "export")
      if (found !== undefined) uids.add(found.metadata.uid)
      return readyOn(v2)(current)
    })
    expect([...uids].filter((uid) => uid !== exporting.metadata.uid)).toEqual([])
    expect(preUpgradeBackups(name).map((backup) => backup.status?.phase)).toEqual(["Completed"])
    expect(conditionOf(object, "ExportCompleted")).toMatchObject({ status: "True", reason: "Succeeded" })
  }, 240_000)
})
