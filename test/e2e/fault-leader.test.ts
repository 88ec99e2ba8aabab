/**
 * Fault injection, part 3: leadership. Two operator replicas with leader election, each with its own ServiceAccount
 * token so that the audit log tells them apart by credential id.
 *
 * A deposed leader: the leader (rate-limited to 5 requests a second) is frozen (SIGSTOP) in the middle of rolling a
 * change, with writes waiting in its rate limiter, and stays frozen past its lease; the standby takes over and rolls
 * that change and one more, then the old leader resumes with its queued writes, a backlog of watch events and late
 * timers. It must write nothing (no write but failed ones on its Lease) and step down to a standby (the process keeps
 * running, not ready): LeaderElection ends a term by the clock, and every write passes its fence when asked for and
 * again right before it is sent.
 *
 * Failover in the middle of a saga: the leader is killed (SIGKILL) the moment the audit log shows it created the
 * pre-upgrade ConvexBackup of an exportImport upgrade, before the roll; the standby takes over and finishes the upgrade
 * with each step run once: one pre-upgrade ConvexBackup, one export Job, one import Job.
 *
 * Failover between the export and the roll: the pre-upgrade ConvexBackup of an exportImport upgrade has Completed and
 * the leader is killed the moment the audit log shows it created the env-save Job (the next step); the standby
 * finishes the upgrade: one ConvexBackup and one backup Job exist, each Job of the saga was created once, the backend
 * StatefulSet rolled once (two ControllerRevisions), the generated Secret is kept, and the standby exits 0.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { backupJobName } from "@convex-operator/core"
import { install } from "convex-operator"
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import { useLocalCluster } from "../integration/support.js"
import { crdPaths } from "../support/manifests.js"
import { type AuditEvent, auditLog, byOperator, notCreatedOnce, writeVerbs } from "./support/audit.js"
import { cleanUpAfterFile, endOf, type ProcessEnd } from "./support/clean-up.js"
import {
  converge,
  generatedSecrets,
  type Json,
  kubeHelpers,
  readyOn,
  secretProblems,
  sleep,
  v1,
  v2
} from "./support/fault.js"
import { eventually, type Kubectl, makeKubectl } from "./support/kube.js"
import {
  createsByName,
  credentialOf,
  credentialOfEvent,
  describeEvent,
  followAudit,
  receivedAt,
  succeeded
} from "./support/leader-audit.js"
import { bundleOperator, type OperatorProcess, startOperator } from "./support/operator-process.js"
import { operatorKubeconfig, serviceAccountKubeconfig } from "./support/service-account-kubeconfig.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-fault-leader-"))
const audit = auditLog(work)
const cluster = useLocalCluster({ components: "full", crds: crdPaths, apiserverArgs: audit.apiserverArgs }, 180_000)

// LeaderElection's defaults (client-go's): a standby takes a Lease this old; a leader's term ends this long after
// its last renewal began.
const leaseDurationMillis = 15_000
const renewDeadlineMillis = 10_000

let kubectl: Kubectl
let helpers: ReturnType<typeof kubeHelpers>
let bundle: string
let tokens = 0
/** Every replica started, so the file's clean-up stops whichever still runs. */
const replicas: Array<OperatorProcess> = []
const replicaNames: Array<string> = []
const timings: Array<string> = []

interface Replica {
  readonly operator: OperatorProcess
  readonly credential: string
  readonly name: string
}

/** A replica named `name` (POD_NAME) with a token of its own; the first of a pair waits until it leads. */
const startReplica = async (name: string, leads: boolean, extraArgs: ReadonlyArray<string> = []): Promise<Replica> => {
  const info = cluster.info()
  const kubeconfig =
    tokens++ === 0
      ? operatorKubeconfig(kubectl, info, work)
      : serviceAccountKubeconfig({
          kubectl,
          cluster: info,
          namespace: install.namespace,
          serviceAccount: install.serviceAccount,
          file: path.join(work, `operator-${name}.kubeconfig`)
        })
  const operator = await startOperator({
    kubeconfig,
    logDir: work,
    bundle,
    env: { POD_NAME: name },
    waitReady: leads,
    args: [
      "--leader-elect",
      `--leader-election-namespace=${install.namespace}`,
      "--operator-image=registry.example/convex-operator:fault",
      ...extraArgs
    ]
  })
  replicas.push(operator)
  replicaNames.push(name)
  return { operator, credential: credentialOf(kubeconfig), name }
}

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  helpers = kubeHelpers(kubectl)
  helpers.namespace(install.namespace)
  bundle = await bundleOperator(work)
}, 120_000)

// A test that failed before stopping its replicas must not leave them campaigning into the next test.
afterEach(async () => {
  for (const operator of replicas) if (operator.running()) await operator.stop()
})

cleanUpAfterFile({
  label: "[fault leader]",
  work,
  // The tests stop their replicas and assert the exit codes; this stops those a failed test left running and judges
  // every replica's end on its own (exit 0, or the SIGKILL a test sent), naming it.
  stop: async () => {
    const ends: Array<ProcessEnd> = []
    for (const [index, operator] of replicas.entries()) ends.push(await endOf(replicaNames[index] ?? "?", operator))
    return ends
  },
  summary: () => `${timings.join(", ")} (each test asserts its replicas' exit codes)`
})

const holder = () =>
  (kubectl.json<Json>(["lease", "convex-operator-leader", "-n", install.namespace])?.spec?.holderIdentity ??
    "") as string
const instance = (ns: string, name: string, version: string, extra: Json = {}) => ({
  apiVersion: "convex.icod.de/v1alpha1",
  kind: "ConvexInstance",
  metadata: { name, namespace: ns },
  spec: { environment: "dev", version, ...extra }
})
const statusCode = async (url: string) => {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).status
  } catch {
    return 0
  }
}
const timed = (what: string, started: number) => timings.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)}s`)

/** The exportImport spec the saga failover tests upgrade with. */
const exportImport = { maintenance: { upgradeStrategy: "exportImport" } }

/**
 * A failover scene: the namespace with the instance's backup volume, `leader` leading and `standby` waiting, the
 * instance (exportImport) Ready on v1.
 */
const failoverScene = async (ns: string, name: string, leader: string, standby: string) => {
  helpers.namespace(ns)
  helpers.backupVolume(ns, name)
  const lead = await startReplica(leader, true)
  const next = await startReplica(standby, false)
  expect(holder()).toMatch(new RegExp(`^${leader}_`))
  const read = () => helpers.instances(ns)
  helpers.apply(instance(ns, name, v1, exportImport))
  await converge(`${name} Ready on v1`, [name], read, (object) => readyOn(object, v1), {
    log: () => lead.operator.logTail(20)
  })
  return { lead, next, read }
}

/** The image the backend StatefulSet of `name` runs. */
const backendImage = (ns: string, name: string) =>
  kubectl.json<Json>(["statefulset", `${name}-backend`, "-n", ns])?.spec.template.spec.containers[0].image

/** Waits until `standby` holds the Lease; notes how long after `killedAt` as `label`. */
const takenOverBy = async (standby: string, killedAt: number, label: string) => {
  await eventually(`${standby} holds the Lease`, () => (holder().startsWith(`${standby}_`) ? true : undefined), {
    timeoutMillis: 60_000,
    intervalMillis: 200
  })
  timings.push(`${label} ${((Date.now() - killedAt) / 1000).toFixed(1)}s after the kill`)
}

/**
 * The operators' requests since `offset`, and the names each saga step's object was created under (the pre-upgrade
 * ConvexBackup and its export Job, the env-save, import and env-restore Jobs of `name`), each step under exactly one.
 */
const sagaSteps = (offset: number, ns: string, name: string, label: string) => {
  const events = audit.events(offset).filter(byOperator)
  const creates = {
    backups: createsByName(events, "convexbackups", ns),
    jobs: createsByName(events, "jobs", ns)
  }
  const named = (counts: ReadonlyMap<string, unknown>, prefix: string) =>
    [...counts.keys()].filter((key) => key.startsWith(`${name}-${prefix}`))
  const steps = {
    backup: named(creates.backups, "pre-upgrade-"),
    exportJob: named(creates.jobs, "pre-upgrade-"),
    envSave: named(creates.jobs, "envsave-"),
    importJob: named(creates.jobs, "import-"),
    envRestore: named(creates.jobs, "envrest-")
  }
  console.log(`[fault leader] ${label} steps created: ${JSON.stringify(steps)}`)
  for (const [step, found] of Object.entries(steps)) expect(found, `${step}: one name`).toHaveLength(1)
  return { events, steps }
}

describe("fault injection: leadership", () => {
  it("a leader frozen past its lease writes nothing when it resumes and steps down to a standby", async () => {
    const started = Date.now()
    const ns = "fault-leader-deposed"
    helpers.namespace(ns)
    // replica-a sends at most 5 requests a second, one at a time, so that writes wait in its rate limiter when it
    // freezes: those are what a deposed leader would send late.
    const a = await startReplica("replica-a", true, ["--kube-api-qps=5", "--kube-api-burst=1"])
    const b = await startReplica("replica-b", false)
    expect(holder()).toMatch(/^replica-a_/)
    const read = () => helpers.instances(ns)
    const envOf = (name: string): ReadonlyArray<Json> =>
      kubectl.json<Json>(["statefulset", `${name}-backend`, "-n", ns])?.spec.template.spec.containers[0].env ?? []
    const phase = (value: string) => ({ backend: { env: [{ name: "FAULT_PHASE", value }] } })
    const onPhase = (value: string) => (object: Json | undefined, name: string) =>
      readyOn(object, v1) && envOf(name).some((env) => env.name === "FAULT_PHASE" && env.value === value)
    // More instances than the operator reconciles at once (4), so that work is queued when the freeze comes.
    const names = ["steady-0", "steady-1", "steady-2", "steady-3", "steady-4", "steady-5"]
    for (const name of names) helpers.apply(instance(ns, name, v1, phase("before")))
    await converge("every instance Ready under replica-a", names, read, onPhase("before"), {
      log: () => a.operator.logTail(20)
    })

    // Change every instance and freeze the leader the moment the audit log shows it writing for that change: it
    // stops in the middle of its reconciles, with writes queued in its rate limiter and reconciles in its queue. Its
    // last renewal began at most 2 s before (the Lease has a client of its own, without the limit); replica-b takes
    // over once the Lease is 15 s old.
    const secretsBefore = generatedSecrets(kubectl, ns, names)
    const logged = fs.statSync(a.operator.logFile).size
    const tail = followAudit(audit)
    for (const name of names) helpers.apply(instance(ns, name, v1, phase("after")))
    await tail.waitFor(
      "replica-a writing for the change",
      (event) =>
        credentialOfEvent(event) === a.credential && writeVerbs.has(event.verb) && event.objectRef?.namespace === ns
    )
    a.operator.signal("SIGSTOP")
    const frozenAt = Date.now()
    let resumedAt = 0
    try {
      await eventually("replica-b holds the Lease", () => (holder().startsWith("replica-b_") ? true : undefined), {
        timeoutMillis: 60_000,
        intervalMillis: 200
      })
      timings.push(`takeover ${((Date.now() - frozenAt) / 1000).toFixed(1)}s after the freeze`)
      await converge("every instance rolled to the change by replica-b", names, read, onPhase("after"), {
        log: () => b.operator.logTail(20)
      })
      // And one more change, which the old leader's unfinished work would undo if it wrote.
      for (const name of names) helpers.apply(instance(ns, name, v1, phase("final")))
      await converge("every instance rolled to the final change by replica-b", names, read, onPhase("final"), {
        log: () => b.operator.logTail(20)
      })
    } finally {
      a.operator.signal("SIGCONT")
      resumedAt = Date.now()
    }
    expect(resumedAt - frozenAt).toBeGreaterThan(leaseDurationMillis)

    // It steps down at once: the term ended renewDeadline after its last renewal, long before it woke up.
    await eventually(
      "replica-a to log that it lost the lease",
      () => (fs.readFileSync(a.operator.logFile, "utf8").slice(logged).includes("lost the lease") ? true : undefined),
      { timeoutMillis: 20_000, detail: () => a.operator.logTail(20) }
    )
    // Give a late reconcile, a requeue timer or the drain of the old term's work the time to write, if it could.
    await sleep(renewDeadlineMillis)
    expect(a.operator.running(), "replica-a keeps running as a standby").toBe(true)
    expect(await statusCode(`${a.operator.probesUrl}/healthz`)).toBe(200)
    expect(await statusCode(`${a.operator.probesUrl}/readyz`), "a standby is not ready").not.toBe(200)
    expect(holder()).toMatch(/^replica-b_/)

    // Nothing written by replica-a since the freeze (a request it sent before is received within the first second);
    // the only writes it may have tried are on its Lease, and none of them succeeded.
    const since = audit
      .events()
      .filter(
        (event) =>
          byOperator(event) && credentialOfEvent(event) === a.credential && receivedAt(event) >= frozenAt + 1000
      )
    const writes = since.filter((event) => writeVerbs.has(event.verb))
    expect(writes.filter((event) => event.objectRef?.resource !== "leases").map(describeEvent)).toEqual([])
    expect(writes.filter(succeeded).map(describeEvent)).toEqual([])
    // It did wake up: it asked the apiserver for the Lease again after the resume.
    expect(
      since.filter((event) => event.objectRef?.resource === "leases" && event.verb === "get").length
    ).toBeGreaterThan(0)
    // And replica-b did the rolling.
    const rolled = audit
      .events()
      .filter(
        (event) =>
          event.objectRef?.namespace === ns && writeVerbs.has(event.verb) && receivedAt(event) >= frozenAt + 1000
      )
      .filter(byOperator)
    expect(rolled.length).toBeGreaterThan(0)
    expect(new Set(rolled.map(credentialOfEvent))).toEqual(new Set([b.credential]))

    // The final change stands, and every generated Secret is byte for byte what it was before the freeze, its admin
    // key verifying against its instance secret: neither the deposed leader's late writes nor the new leader's
    // first reconciles replaced one.
    await converge("every instance still on the final change", names, read, onPhase("final"))
    expect(secretProblems(secretsBefore, generatedSecrets(kubectl, ns, names))).toEqual([])

    // Both step down cleanly on SIGTERM: the standby, and the leader, which releases the Lease.
    expect(await a.operator.stop()).toBe(0)
    expect(await b.operator.stop()).toBe(0)
    expect(holder()).toBe("")
    timed("deposed leader", started)
  }, 240_000)

  it("a leader killed right after it created the pre-upgrade backup: the standby finishes, each step once", async () => {
    const started = Date.now()
    const ns = "fault-leader-saga"
    const name = "saga"
    const { lead: c, next: d, read } = await failoverScene(ns, name, "replica-c", "replica-d")

    const secretsBefore = generatedSecrets(kubectl, ns, [name])
    const offset = audit.offset()
    const tail = followAudit(audit, offset)
    helpers.apply(instance(ns, name, v2, exportImport))
    const backup = await tail.waitFor(
      "replica-c creating the pre-upgrade ConvexBackup",
      (event: AuditEvent) =>
        credentialOfEvent(event) === c.credential &&
        event.objectRef?.resource === "convexbackups" &&
        event.objectRef.namespace === ns &&
        (event.objectRef.name ?? "").startsWith(`${name}-pre-upgrade-`) &&
        (event.verb === "create" || event.verb === "patch") &&
        event.responseStatus?.code === 201
    )
    await c.operator.kill()
    const killedAt = Date.now()
    console.log(
      `[fault leader] killed replica-c ${killedAt - receivedAt(backup)} ms after it created ${backup.objectRef?.name}`
    )
    expect(c.operator.running()).toBe(false)
    // Before the roll: the backend still runs v1.
    expect(backendImage(ns, name)).toBe(`ghcr.io/get-convex/convex-backend:${v1}`)

    await takenOverBy("replica-d", killedAt, "saga takeover")
    await converge("saga Ready on v2 under replica-d", [name], read, (object) => readyOn(object, v2), {
      timeoutMillis: 150_000,
      log: () => d.operator.logTail(20)
    })
    expect(backendImage(ns, name)).toBe(`ghcr.io/get-convex/convex-backend:${v2}`)
    // The upgrade, begun by one leader and finished by another, kept the generated Secret byte for byte.
    expect(secretProblems(secretsBefore, generatedSecrets(kubectl, ns, [name]))).toEqual([])

    // Each step once, from the objects that exist: one pre-upgrade ConvexBackup, Completed, and one export Job (its
    // own, kept with it); the import Job belongs to the upgrade and is gone with it.
    const backups = (kubectl.json<Json>(["convexbackups", "-n", ns, "-l", "convex.icod.de/upgrade-hash"])?.items ??
      []) as ReadonlyArray<Json>
    expect(backups.map((item) => [item.metadata.name, item.status?.phase])).toEqual([
      [backup.objectRef?.name, "Completed"]
    ])
    const jobs = ((kubectl.json<Json>(["jobs", "-n", ns])?.items ?? []) as ReadonlyArray<Json>).map(
      (job) => job.metadata.name as string
    )
    expect(jobs.filter((job) => job.startsWith(`${name}-pre-upgrade-`))).toEqual([
      backupJobName(backup.objectRef?.name ?? "")
    ])

    // ... and from the audit log: no step created under a second name, and each step's object created once.
    const { events, steps } = sagaSteps(offset, ns, name, "saga")
    // Each came into being exactly once: a 201, or a write the kill interrupted that the log proves stored (the
    // object exists at the end, or a successful delete follows); see `creations` in support/audit.ts.
    const all = audit.events(offset)
    const existingBackups = new Set(backups.map((item) => item.metadata.name as string))
    expect(notCreatedOnce(all, "convexbackups", ns, steps.backup, existingBackups), "backups created once").toEqual([])
    const stepJobs = [...steps.exportJob, ...steps.importJob, ...steps.envSave, ...steps.envRestore]
    expect(notCreatedOnce(all, "jobs", ns, stepJobs, new Set(jobs)), "step Jobs created once").toEqual([])
    // The backup by the killed leader; the import, after the roll, by its successor.
    expect(credentialOfEvent(backup)).toBe(c.credential)
    const importCreate = events.find(
      (event) =>
        event.objectRef?.resource === "jobs" &&
        event.objectRef.name === steps.importJob[0] &&
        event.responseStatus?.code === 201
    )
    expect(importCreate === undefined ? undefined : credentialOfEvent(importCreate)).toBe(d.credential)

    expect(await d.operator.stop()).toBe(0)
    timed("saga failover", started)
  }, 300_000)

  it("a leader killed the moment it began the env-save step, its pre-upgrade backup Completed: the standby finishes, each step once", async () => {
    const started = Date.now()
    const ns = "fault-leader-midsaga"
    const name = "midsaga"
    const { lead: e, next: f, read } = await failoverScene(ns, name, "replica-e", "replica-f")

    // The upgrade runs under replica-e through its export (the pre-upgrade ConvexBackup and its Job, to Completed);
    // the moment the audit log shows it created the env-save Job, the step after the export, it is killed.
    const secretsBefore = generatedSecrets(kubectl, ns, [name])
    const offset = audit.offset()
    const tail = followAudit(audit, offset)
    helpers.apply(instance(ns, name, v2, exportImport))
    const envSave = await tail.waitFor(
      "replica-e creating the env-save Job",
      (event: AuditEvent) =>
        credentialOfEvent(event) === e.credential &&
        event.objectRef?.resource === "jobs" &&
        event.objectRef.namespace === ns &&
        event.objectRef.subresource === undefined &&
        (event.objectRef.name ?? "").startsWith(`${name}-envsave-`) &&
        (event.verb === "create" || event.verb === "patch") &&
        event.responseStatus?.code === 201,
      150_000
    )
    await e.operator.kill()
    const killedAt = Date.now()
    console.log(
      `[fault leader] killed replica-e ${killedAt - receivedAt(envSave)} ms after it created ${envSave.objectRef?.name}`
    )
    expect(e.operator.running()).toBe(false)
    // Between the export and the roll: the pre-upgrade backup is Completed, the backend still runs v1.
    const allBackups = () => (kubectl.json<Json>(["convexbackups", "-n", ns])?.items ?? []) as ReadonlyArray<Json>
    expect(
      allBackups().map((item) => [
        (item.metadata.name as string).startsWith(`${name}-pre-upgrade-`),
        item.status?.phase
      ])
    ).toEqual([[true, "Completed"]])
    expect(backendImage(ns, name)).toBe(`ghcr.io/get-convex/convex-backend:${v1}`)

    await takenOverBy("replica-f", killedAt, "mid-saga takeover")
    await converge("midsaga Ready on v2 under replica-f", [name], read, (object) => readyOn(object, v2), {
      timeoutMillis: 150_000,
      log: () => f.operator.logTail(20)
    })
    expect(backendImage(ns, name)).toBe(`ghcr.io/get-convex/convex-backend:${v2}`)
    // The generated Secret byte for byte as before the upgrade, its admin key verifying.
    expect(secretProblems(secretsBefore, generatedSecrets(kubectl, ns, [name]))).toEqual([])

    // Each step once, from what exists: one ConvexBackup in the namespace (the pre-upgrade one, Completed) with one
    // backup Job; the env-save, import and env-restore Jobs belong to the upgrade and are gone with it.
    const backups = allBackups()
    expect(backups.map((item) => item.status?.phase)).toEqual(["Completed"])
    const backupName = backups[0]?.metadata.name as string
    const jobs = ((kubectl.json<Json>(["jobs", "-n", ns])?.items ?? []) as ReadonlyArray<Json>).map(
      (job) => job.metadata.name as string
    )
    expect(jobs).toEqual([backupJobName(backupName)])
    // One roll: the backend StatefulSet has two ControllerRevisions, v1's and v2's.
    const statefulSet = kubectl.json<Json>(["statefulset", `${name}-backend`, "-n", ns])
    const revisions = ((kubectl.json<Json>(["controllerrevisions", "-n", ns])?.items ?? []) as ReadonlyArray<Json>)
      .filter((revision) =>
        (revision.metadata.ownerReferences ?? []).some((owner: Json) => owner.uid === statefulSet?.metadata.uid)
      )
      .map((revision) => `${revision.metadata.name}#${revision.revision}`)
    expect(revisions, "revisions of the backend StatefulSet").toHaveLength(2)

    // ... and from the audit log: each step under one name, its object created exactly once (counted from the
    // creates, deletes and what exists; see `creations` in support/audit.ts), whichever leader made it.
    const { events, steps } = sagaSteps(offset, ns, name, "mid-saga")
    expect(steps.backup).toEqual([backupName])
    expect(steps.envSave).toEqual([envSave.objectRef?.name])
    const all = audit.events(offset)
    expect(
      notCreatedOnce(all, "convexbackups", ns, steps.backup, new Set([backupName])),
      "backup created once"
    ).toEqual([])
    const stepJobs = [...steps.exportJob, ...steps.envSave, ...steps.importJob, ...steps.envRestore]
    expect(notCreatedOnce(all, "jobs", ns, stepJobs, new Set(jobs)), "step Jobs created once").toEqual([])
    // The export and the env-save Job by the killed leader; the steps after the kill by its successor.
    const creatorOf = (resource: string, object: string) =>
      events
        .filter(
          (event) =>
            event.objectRef?.resource === resource &&
            event.objectRef.name === object &&
            event.objectRef.subresource === undefined &&
            event.responseStatus?.code === 201
        )
        .map(credentialOfEvent)
    expect(creatorOf("convexbackups", backupName)).toEqual([e.credential])
    expect(creatorOf("jobs", steps.envSave[0] ?? "")).toEqual([e.credential])
    expect(creatorOf("jobs", steps.importJob[0] ?? "")).toEqual([f.credential])
    expect(creatorOf("jobs", steps.envRestore[0] ?? "")).toEqual([f.credential])
    // Nothing of replica-e's reached the apiserver after the kill: the roll and the rest are replica-f's.
    expect(
      events
        .filter((event) => credentialOfEvent(event) === e.credential && receivedAt(event) > killedAt)
        .map(describeEvent)
    ).toEqual([])

    expect(await f.operator.stop()).toBe(0)
    timed("mid-saga failover", started)
  }, 360_000)
})
