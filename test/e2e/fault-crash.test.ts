/**
 * Fault injection, part 1: crashes. The operator (a separate process, no leader election) is killed with SIGKILL at
 * seeded random points while four instances are created, updated, upgraded (two inPlace, two exportImport) and
 * deleted, and restarted each time; some kills land while it is still listing. Then the control plane fails under
 * it: the apiserver is killed and restarted mid-run, etcd is compacted while the watches are open (so they answer
 * 410 Gone and the operator lists again), and the apiserver is frozen (SIGSTOP) for longer than the operator's
 * watch idle timeout and resumed.
 *
 * After each phase every instance must reach the desired state; across the run the audit log must show each
 * generated Secret, each pre-upgrade ConvexBackup and its Job, and each import Job created once (no saga step run
 * twice), the generated
 * instance secret and admin key never change, and deletion leaves nothing behind but the retained claims and the
 * pre-upgrade ConvexBackups (with their Jobs), which the operator never deletes.
 * FAULT_SEED=<n> replays the kill points of a run (the seed is in the suite's name and the summary line).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { install } from "convex-operator"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { useLocalCluster } from "../integration/support.js"
import { crdPaths } from "../support/manifests.js"
import { auditLog, byOperator, creations } from "./support/audit.js"
import { cleanUpAfterFile } from "./support/clean-up.js"
import { converge, faultSeed, type Json, kubeHelpers, readyOn, seededRandom, sleep, v1, v2 } from "./support/fault.js"
import { type Kubectl, makeKubectl } from "./support/kube.js"
import { bundleOperator, type OperatorProcess, startOperator } from "./support/operator-process.js"
import { operatorKubeconfig } from "./support/service-account-kubeconfig.js"

const seed = faultSeed()
const random = seededRandom(seed)
const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-fault-crash-"))
const audit = auditLog(work)
const cluster = useLocalCluster(
  {
    components: "full",
    crds: crdPaths,
    apiserverArgs: audit.apiserverArgs
  },
  180_000
)

const ns = "fault-crash"
const strategies = { f0: "inPlace", f1: "inPlace", f2: "exportImport", f3: "exportImport" } as const
const names = Object.keys(strategies) as ReadonlyArray<keyof typeof strategies>
const idleTimeoutSeconds = 15

let kubectl: Kubectl
let helpers: ReturnType<typeof kubeHelpers>
let operator: OperatorProcess
let operatorConfig: string
let extraArgs: ReadonlyArray<string> = []
let bundle: string
const kills: Array<string> = []
const timings: Array<string> = []

const runOperator = (waitReady = true) =>
  startOperator({
    kubeconfig: operatorConfig,
    logDir: work,
    bundle,
    waitReady,
    args: [`--namespaces=${ns}`, "--operator-image=registry.example/convex-operator:fault", ...extraArgs]
  })

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  helpers = kubeHelpers(kubectl)
  helpers.namespace(ns)
  helpers.namespace(install.namespace)
  for (const name of names) helpers.backupVolume(ns, name)
  operatorConfig = operatorKubeconfig(kubectl, info, work)
  bundle = await bundleOperator(work)
  operator = await runOperator()
}, 120_000)

cleanUpAfterFile({
  label: `[fault crash] seed ${seed}:`,
  work,
  stop: async () => operator?.stop(),
  summary: () => `${kills.length} kills (${kills.join(" ")}); ${timings.join(", ")}`
})

const timed = async (phase: string, body: () => Promise<void>) => {
  const started = Date.now()
  await body()
  timings.push(`${phase} ${((Date.now() - started) / 1000).toFixed(1)}s`)
}

const instanceSpec = (name: keyof typeof strategies, version: string, extra: Json = {}) => ({
  apiVersion: "convex.icod.de/v1alpha1",
  kind: "ConvexInstance",
  metadata: { name, namespace: ns },
  spec: { environment: "dev", version, maintenance: { upgradeStrategy: strategies[name] }, ...extra }
})

/**
 * `count` times: wait a seeded random 0–2.5 s, SIGKILL the operator, start it again. About a third of the restarts
 * do not wait for the caches, so the next kill may land while the operator is still listing.
 */
const crash = async (phase: string, count: number) => {
  for (let i = 0; i < count; i++) {
    const delay = Math.floor(random() * 2500)
    const early = random() < 0.35
    await sleep(delay)
    await operator.kill()
    kills.push(`${phase}@${delay}ms${early ? "*" : ""}`)
    operator = await runOperator(!early)
  }
  // The last restart must get to reconcile.
  if (!operator.running()) operator = await runOperator()
}

const log = () => operator.logTail(20)
const read = () => helpers.instances(ns)
const statefulSet = (name: string) => kubectl.json<Json>(["statefulset", `${name}-backend`, "-n", ns])
const envOf = (name: string): ReadonlyArray<Json> => statefulSet(name)?.spec.template.spec.containers[0].env ?? []
const phaseEnv = (value: string) => ({ backend: { env: [{ name: "FAULT_PHASE", value }] } })
const hasPhase = (name: string, value: string) =>
  envOf(name).some((env) => env.name === "FAULT_PHASE" && env.value === value)
const generatedSecret = (name: string) => kubectl.json<Json>(["secret", `${name}-convex-secrets`, "-n", ns])?.data

/** Applies `FAULT_PHASE=value` to every instance (keeping the version and dashboard settings of `extra`). */
const setPhase = (value: string, version: string) => {
  for (const name of names) {
    helpers.apply(
      instanceSpec(name, version, { ...phaseEnv(value), ...(name === "f1" ? { dashboard: { enabled: false } } : {}) })
    )
  }
}
const convergedOn = (value: string, version: string) =>
  converge(
    `every instance Ready on ${version.slice(0, 4)} with FAULT_PHASE=${value}`,
    names,
    read,
    (object, name) => readyOn(object, version) && hasPhase(name, value),
    { log }
  )

const secretsAfterCreate = new Map<string, Json | undefined>()

describe(`fault injection: crashes (seed ${seed})`, () => {
  it("converges through kill -9 during create, update, upgrade (inPlace and exportImport)", async () => {
    await timed("create", async () => {
      for (const name of names) helpers.apply(instanceSpec(name, v1))
      await crash("create", 5)
      await converge("every instance Ready on v1", names, read, (object) => readyOn(object, v1), { log })
    })
    for (const name of names) secretsAfterCreate.set(name, generatedSecret(name))

    await timed("update", async () => {
      setPhase("update", v1)
      await crash("update", 4)
      await convergedOn("update", v1)
      await converge(
        "the dashboard of f1 removed",
        ["f1"],
        read,
        () => kubectl.json(["deployment", "f1-dashboard", "-n", ns]) === undefined
      )
    })

    await timed("upgrade", async () => {
      setPhase("update", v2)
      await crash("upgrade", 7)
      await convergedOn("update", v2)
    })
    for (const name of names) {
      expect(statefulSet(name)?.spec.template.spec.containers[0].image).toBe(`ghcr.io/get-convex/convex-backend:${v2}`)
      expect(generatedSecret(name), `${name}: instance secret and admin key unchanged`).toEqual(
        secretsAfterCreate.get(name)
      )
      expect(secretsAfterCreate.get(name)).toBeDefined()
    }

    // No saga step twice: one pre-upgrade ConvexBackup per upgrade and one Job of it, one import Job for
    // exportImport (none for inPlace), each created once, and so were the generated Secret and the StatefulSet.
    // A write whose client
    // was killed before the answer is logged as 5xx although it may have been stored: it counts as "perhaps".
    const events = audit.events().filter(byOperator)
    const once = (resource: string, name: string) => {
      const count = creations(events, resource, ns).get(name) ?? { sure: 0, perhaps: 0 }
      expect(count.sure, `${resource}/${name} created at most once: ${JSON.stringify(count)}`).toBeLessThanOrEqual(1)
      expect(
        count.sure + count.perhaps,
        `${resource}/${name} created: ${JSON.stringify(count)}`
      ).toBeGreaterThanOrEqual(1)
    }
    const jobs = [...creations(events, "jobs", ns).keys()]
    const backups = [...creations(events, "convexbackups", ns).keys()]
    for (const name of names) {
      const preUpgrade = backups.filter((backup) => backup.startsWith(`${name}-pre-upgrade-`))
      const exports = jobs.filter((job) => job.startsWith(`${name}-pre-upgrade-`))
      const imports = jobs.filter((job) => job.startsWith(`${name}-import-`))
      expect(preUpgrade, `${name}: pre-upgrade ConvexBackups`).toHaveLength(1)
      expect(exports, `${name}: export Jobs`).toHaveLength(1)
      expect(imports, `${name}: import Jobs`).toHaveLength(strategies[name] === "exportImport" ? 1 : 0)
      for (const backup of preUpgrade) once("convexbackups", backup)
      for (const job of [...exports, ...imports]) once("jobs", job)
      once("secrets", `${name}-convex-secrets`)
      once("statefulsets", `${name}-backend`)
    }
    expect(kills.length).toBe(16)
  }, 400_000)

  it("converges through an apiserver kill and an etcd compaction under open watches (410, relist)", async () => {
    const { faults } = cluster.info()
    await timed("apiserver restart", async () => {
      setPhase("restart", v2)
      await Effect.runPromise(faults.restart("kube-apiserver", "SIGKILL"))
      await convergedOn("restart", v2)
    })
    await timed("compaction", async () => {
      const logged = fs.statSync(operator.logFile).size
      // Freeze the operator so the changes reach it only through a list, compact etcd past everything it saw,
      // and restart the apiserver: its fresh watch cache starts after the compaction, so resuming answers 410.
      operator.signal("SIGSTOP")
      try {
        setPhase("compacted", v2)
        await Effect.runPromise(faults.compactEtcd)
        await Effect.runPromise(faults.restart("kube-apiserver"))
      } finally {
        operator.signal("SIGCONT")
      }
      await convergedOn("compacted", v2)
      const since = fs.readFileSync(operator.logFile, "utf8").slice(logged)
      expect(since, "the operator saw 410 Gone and listed again").toContain("listing again")
    })
  }, 200_000)

  it("recovers without a restart from an apiserver frozen longer than the watch idle timeout", async () => {
    const { faults } = cluster.info()
    await timed("frozen apiserver", async () => {
      extraArgs = [`--watch-idle-timeout=${idleTimeoutSeconds}`]
      await operator.stop()
      operator = await runOperator()
      const pid = operator.pid
      const logged = fs.statSync(operator.logFile).size
      faults.signal("kube-apiserver", "SIGSTOP")
      try {
        await sleep((idleTimeoutSeconds + 5) * 1000)
      } finally {
        faults.signal("kube-apiserver", "SIGCONT")
      }
      setPhase("thawed", v2)
      await convergedOn("thawed", v2)
      expect(operator.pid).toBe(pid)
      expect(operator.running()).toBe(true)
      const since = fs.readFileSync(operator.logFile, "utf8").slice(logged)
      expect(since, "a watch idle timeout fired while the apiserver was frozen").toContain("no event or bookmark for")
    })
  }, 200_000)

  it("deletes through kill -9 and leaves no orphans (only the retained claims and pre-upgrade backups)", async () => {
    await timed("delete", async () => {
      kubectl(["delete", "convexinstances", "--all", "-n", ns, "--wait=false"])
      await crash("delete", 4)
      await converge("every instance gone", names, read, (object) => object === undefined, { log })
      const left = await converge("no child left", ["children"], read, () => {
        const items =
          kubectl.json<Json>([
            "jobs,statefulsets,deployments,services,configmaps,secrets,pods,persistentvolumeclaims",
            "-n",
            ns,
            "-l",
            "app.kubernetes.io/managed-by=convex-operator"
          ])?.items ?? []
        return items.every((item: Json) =>
          item.kind === "PersistentVolumeClaim"
            ? /-(backend-pvc|backups)$/.test(item.metadata.name)
            : // The pre-upgrade backups stay, with their Jobs (owned by them) and those Jobs' pods.
              (item.kind === "Job" || item.kind === "Pod") && item.metadata.name.includes("-pre-upgrade-")
        )
      })
      expect(left).toBe(true)
      const backups = kubectl.json<Json>(["convexbackups", "-n", ns, "-l", "convex.icod.de/upgrade-hash"])?.items ?? []
      expect(backups.map((backup: Json) => backup.status?.phase)).toEqual(names.map(() => "Completed"))
    })
  }, 200_000)
})
