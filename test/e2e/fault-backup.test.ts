/**
 * Fault injection, backups and restores: backups that fail and a restore that fails, on the full local cluster
 * with the operator as a separate process (bundled, so that it restarts quickly) under the generated RBAC, the
 * apiserver's audit log counting its requests, and a real SeaweedFS S3 server on loopback.
 *
 * - the store step itself (`backup store`, what a backup Job's store container runs) against the real server with
 *   a wrong secret and an unknown access key id, and against a closed port on 127.0.0.1: exit 2, one line naming
 *   the cause and what to check, the same line as the termination message, never a secret;
 * - a backup whose S3 Secret is missing, or lacks a key: the operator fails it itself, without a Job, naming the
 *   field, Secret and key; one Warning on the instance; nothing more in a quiet window (no retry storm);
 * - a backup whose Job fails (kwok fails its pods, as it cannot run the store command against a wrong secret or a
 *   closed port): Failed with what its store container said, one Job, at most backoffLimit+1 pods, nothing more
 *   in a quiet window;
 * - a restore whose import Job fails: Failed, RestoreCompleted False, a Warning, never Ready meanwhile; the
 *   convex.icod.de/retry-restore annotation runs it once more, then Ready; after that neither a new annotation value
 *   nor an operator restart creates another import Job (audit log).
 *
 * Each test with a cluster side has its own namespace, ConvexInstance and operator process (watching that namespace
 * only; stopped at the end with exit code 0 required), so one failing leaves the next a clean start. After each fault
 * phase every generated Secret is byte for byte what it was and its admin key verifies against its instance secret.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { install } from "convex-operator"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { failJobPods } from "../cluster/failing-jobs.js"
import { type S3Server, startS3Server } from "../cluster/seaweedfs.js"
import { useLocalCluster } from "../integration/support.js"
import { crdPaths, repoRoot } from "../support/manifests.js"
import { type AuditEvent, auditLog, byOperator } from "./support/audit.js"
import { cleanUpAfterFile, endOf, type ProcessEnd } from "./support/clean-up.js"
import { generatedSecrets, kubeHelpers, secretProblems } from "./support/fault.js"
import { conditionOf, eventually, type Kubectl, makeKubectl } from "./support/kube.js"
import { bundleOperator, type OperatorProcess, startOperator } from "./support/operator-process.js"
import { operatorKubeconfig } from "./support/service-account-kubeconfig.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-fault-backup-"))
const audit = auditLog(work)
const cluster = useLocalCluster({ components: "full", crds: crdPaths, apiserverArgs: audit.apiserverArgs }, 180_000)

const version = "1111111111111111111111111111111111111111"
/** How long nothing more may happen after a failure (the operator looks at a waiting backup every 10 s). */
const quietMillis = 20_000
const retryRestore = "convex.icod.de/retry-restore"

let kubectl: Kubectl
let operatorConfig: string
let bundle: string
let s3: S3Server
const timings: Array<string> = []
/** Every operator process of the file, by the namespace it watched, for the clean-up's verdict on each. */
const operators: Array<{ readonly name: string; readonly process: OperatorProcess }> = []

// biome-ignore lint/suspicious/noExplicitAny: kubectl output, checked by the assertions
type Json = Record<string, any>

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))
const apply = (object: unknown) =>
  kubectl(["apply", "--server-side", "--field-manager=e2e", "-f", "-"], JSON.stringify(object))

/** Runs the operator's CLI (the bundle) like a Job's container would; resolves to its exit code and output. */
const runCli = async (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bundle, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      timeout: 120_000
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string }
    return { code: failed.code ?? -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" }
  }
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
const closedPort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/**
 * One test's own namespace `ns`, ConvexInstance `instance` (Ready, with a pre-bound volume for its backup claim) and
 * operator process (watching `ns` only), so that a test failing leaves the next one a clean start. The helpers
 * all work in `ns`.
 */
const setUpPlace = async (ns: string, instance: string) => {
  let operator: OperatorProcess | undefined
  const current = () => {
    if (operator === undefined) throw new Error(`no operator for ${ns}`)
    return operator
  }
  const start = async () => {
    operator = await startOperator({
      kubeconfig: operatorConfig,
      logDir: work,
      bundle,
      args: [`--namespaces=${ns}`, "--operator-image=registry.example/convex-operator:fault"]
    })
    operators.push({ name: ns, process: operator })
  }
  const get = (kind: string, name: string) => kubectl.json<Json>([kind, name, "-n", ns])
  const convexInstance = (name: string, extra: object = {}) =>
    apply({
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexInstance",
      metadata: { name, namespace: ns },
      spec: { environment: "dev", version, ...extra }
    })
  const detail = () =>
    `backups: ${JSON.stringify(kubectl.json<Json>(["convexbackups", "-n", ns])?.items.map((b: Json) => [b.metadata.name, b.status]))}\noperator log:\n${current().logTail(20)}`
  const ready = (name: string) =>
    eventually(
      `${ns}/${name} Ready`,
      () => {
        const object = get("convexinstance", name)
        return conditionOf(object, "Ready")?.status === "True" ? object : undefined
      },
      {
        timeoutMillis: 120_000,
        detail: () => `${JSON.stringify(get("convexinstance", name)?.status)}\n${current().logTail(20)}`
      }
    )
  /** The operator's requests since `offset` about `resource` (optionally one subresource) named by `matches`. */
  const operatorRequests = (
    offset: number,
    resource: string,
    matches: (name: string) => boolean,
    subresource?: string
  ): ReadonlyArray<AuditEvent> =>
    audit
      .events(offset)
      .filter(
        (event) =>
          byOperator(event) &&
          event.objectRef?.resource === resource &&
          event.objectRef.namespace === ns &&
          matches(event.objectRef.name ?? "") &&
          event.objectRef.subresource === subresource
      )

  apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })
  kubeHelpers(kubectl).backupVolume(ns, instance)
  await start()
  convexInstance(instance)
  await ready(instance)
  return {
    ns,
    instance,
    operator: current,
    get,
    convexInstance,
    ready,
    detail,
    operatorRequests,
    /** A ConvexBackup of the place's instance. */
    convexBackup: (name: string, target: object) =>
      apply({
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexBackup",
        metadata: { name, namespace: ns },
        spec: { instanceRef: { name: instance }, target }
      }),
    phaseOf: (name: string, phases: ReadonlyArray<string>, timeoutMillis = 120_000) =>
      eventually(
        `ConvexBackup ${ns}/${name} ${phases.join("/")}`,
        () => {
          const backup = get("convexbackup", name)
          return phases.includes(backup?.status?.phase) ? backup : undefined
        },
        { timeoutMillis, intervalMillis: 250, detail }
      ),
    /** Events about `name` (events.k8s.io, any kind). */
    eventsAbout: (name: string): ReadonlyArray<Json> =>
      kubectl.json<Json>(["events.events.k8s.io", "-n", ns, "--field-selector", `regarding.name=${name}`])?.items ?? [],
    /** Creates of a Job named `name` since `offset` that the apiserver answered 201 (a create, or an apply creating). */
    jobCreations: (offset: number, name: string) =>
      operatorRequests(offset, "jobs", (job) => job === name).filter(
        (event) => (event.verb === "create" || event.verb === "patch") && event.responseStatus?.code === 201
      ).length,
    /** The generated Secrets of `names` (default the place's instance). */
    secrets: (names: ReadonlyArray<string> = [instance]) => generatedSecrets(kubectl, ns, names),
    /** Each generated Secret of `names` byte for byte as `before` (when it existed), its admin key verifying. */
    expectSecretsKept: (before: ReturnType<typeof generatedSecrets>, names: ReadonlyArray<string> = [instance]) =>
      expect(secretProblems(before, generatedSecrets(kubectl, ns, names))).toEqual([]),
    /** SIGTERM (exit code 0 required), then a new operator for the namespace. */
    restart: async () => {
      expect(await current().stop(), `${ns}: the operator's exit code on SIGTERM`).toBe(0)
      await start()
    },
    /** SIGTERM; the operator must exit with 0. */
    finish: async () => {
      expect(await current().stop(), `${ns}: the operator's exit code on SIGTERM\n${current().logTail(20)}`).toBe(0)
    }
  }
}

type Place = Awaited<ReturnType<typeof setUpPlace>>

/** Registers a beforeAll (in the caller's describe) that sets up the place; the function returned gives it. */
const placeFor = (ns: string, instance: string): (() => Place) => {
  let place: Place | undefined
  beforeAll(async () => {
    place = await setUpPlace(ns, instance)
  }, 240_000)
  return () => {
    if (place === undefined) throw new Error(`${ns}: not set up (its beforeAll failed)`)
    return place
  }
}

const s3Target = (secret: string, endpoint = s3.endpoint) => ({
  s3: { bucket: s3.bucket, prefix: "fault", endpoint, forcePathStyle: true, secretRef: { name: secret } }
})
const writes = (events: ReadonlyArray<AuditEvent>) =>
  events.filter((event) => ["create", "update", "patch", "delete"].includes(event.verb))

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: install.namespace } })
  operatorConfig = operatorKubeconfig(kubectl, info, work)
  bundle = await bundleOperator(work)
  const started = Date.now()
  s3 = await startS3Server()
  timings.push(`SeaweedFS up in ${((Date.now() - started) / 1000).toFixed(1)}s`)
}, 240_000)

// A test that failed before `finish` stops its operator here, so the next test runs on a quiet machine (the
// clean-up below judges how it ended).
afterEach(async () => {
  for (const { process } of operators) if (process.running()) await process.stop()
})

afterAll(async () => {
  await s3?.stop()
})

cleanUpAfterFile({
  label: "[fault backup]",
  work,
  stop: async () => {
    const ends: Array<ProcessEnd> = []
    for (const { name, process } of operators) ends.push(await endOf(name, process))
    return ends
  },
  summary: () => timings.join(", ")
})

describe("backups that fail", () => {
  it("backup store against the real S3 server with wrong credentials, and against a closed loopback port: exit 2, the cause and what to check, never a secret", async () => {
    const zip = path.join(work, "snapshot.zip")
    fs.writeFileSync(zip, Buffer.alloc(4096, 7))
    const store = (endpoint: string, name: string) => [
      "backup",
      "store",
      "--file",
      zip,
      "--location",
      `s3://${s3.bucket}/fault/${name}.zip`,
      "--termination-log",
      path.join(work, `${name}.term`),
      "--s3-bucket",
      s3.bucket,
      "--s3-key",
      `fault/${name}.zip`,
      "--s3-endpoint",
      endpoint,
      "--s3-force-path-style"
    ]
    const wrongSecret = "wrong-secret-access-key-0123456789"
    const port = await closedPort()
    const cases = [
      {
        name: "wrong-secret",
        endpoint: s3.endpoint,
        env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: wrongSecret },
        says: ["SignatureDoesNotMatch", "check the secret access key in the credentials Secret"]
      },
      {
        name: "unknown-key-id",
        endpoint: s3.endpoint,
        env: { AWS_ACCESS_KEY_ID: "nobody-we-know", AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
        says: ["InvalidAccessKeyId", "check the access key id in the credentials Secret"]
      },
      {
        name: "closed-port",
        endpoint: `http://127.0.0.1:${port}`,
        env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
        says: [`ECONNREFUSED 127.0.0.1:${port}`, "nothing accepts connections at the endpoint"]
      }
    ]
    for (const { name, endpoint, env, says } of cases) {
      const started = Date.now()
      const result = await runCli(store(endpoint, name), env)
      timings.push(`store ${name} failed in ${((Date.now() - started) / 1000).toFixed(1)}s`)
      const lastLine = result.stderr.trim().split("\n").at(-1) ?? ""
      expect(result.code, `${name}: ${result.stderr}`).toBe(2)
      expect(lastLine).toContain(`convex-operator: uploading to s3://${s3.bucket}/fault/${name}.zip: `)
      for (const words of says) expect(lastLine, name).toContain(words)
      // The termination message (what the operator reads) is that line.
      expect(`convex-operator: ${fs.readFileSync(path.join(work, `${name}.term`), "utf8")}`).toBe(lastLine)
      for (const secret of [wrongSecret, s3.secretAccessKey]) {
        expect(`${result.stdout}${result.stderr}`).not.toContain(secret)
      }
      expect(result.stdout).not.toContain("sizeBytes") // no report: nothing claims the ZIP is there
    }
  }, 240_000)

  describe("a missing S3 Secret", () => {
    const place = placeFor("fault-backup-secret", "secret-app")

    it("a missing S3 Secret, or one without a key: Failed by the operator without a Job, naming the Secret and key; one Warning; quiet after", async () => {
      const { ns, instance, convexBackup, phaseOf, get, eventsAbout, operatorRequests } = place()
      const secretsBefore = place().secrets()
      const offset = audit.offset()
      const accessKeyIdValue = "half-access-key-id-value"
      kubectl(["create", "secret", "generic", "half", "-n", ns, `--from-literal=AWS_ACCESS_KEY_ID=${accessKeyIdValue}`])
      convexBackup("no-secret", s3Target("absent"))
      convexBackup("half-secret", s3Target("half"))
      const noSecret = await phaseOf("no-secret", ["Failed", "Completed"], 60_000)
      const halfSecret = await phaseOf("half-secret", ["Failed", "Completed"], 60_000)
      expect(noSecret.status.phase).toBe("Failed")
      expect(noSecret.status.message).toBe(
        `backup no-secret failed: spec.target.s3.secretRef: Secret "absent" does not exist in namespace ${ns}; create it with the keys "AWS_ACCESS_KEY_ID" and "AWS_SECRET_ACCESS_KEY", then create a new ConvexBackup`
      )
      expect(halfSecret.status.phase).toBe("Failed")
      expect(halfSecret.status.message).toBe(
        'backup half-secret failed: spec.target.s3.secretRef.secretAccessKeyKey: Secret "half" has no key "AWS_SECRET_ACCESS_KEY" (or its value is empty); add it to the Secret, then create a new ConvexBackup'
      )
      for (const backup of [noSecret, halfSecret]) {
        expect(conditionOf(backup, "Completed")).toMatchObject({ status: "False", reason: "BackupFailed" })
        expect(get("job", `${backup.metadata.name}-backup`)).toBeUndefined()
      }
      const warnings = eventsAbout(instance).filter((e: Json) => e.type === "Warning" && e.reason === "BackupFailed")
      for (const message of [noSecret.status.message, halfSecret.status.message]) {
        const matching = warnings.filter((e: Json) => e.note === message)
        expect(matching, message).toHaveLength(1)
        expect(matching[0]?.series?.count ?? 1).toBe(1)
      }
      expect(JSON.stringify(warnings)).not.toContain(accessKeyIdValue)

      const failedAt = audit.offset()
      await sleep(quietMillis)
      const ours = (name: string) => name === "no-secret" || name === "half-secret"
      const statusWrites = writes(operatorRequests(offset, "convexbackups", ours, "status"))
      const jobs = operatorRequests(offset, "jobs", (name) => name.startsWith("no-secret") || name.startsWith("half"))
      const secretReads = operatorRequests(offset, "secrets", (name) => name === "absent" || name === "half")
      timings.push(
        `missing Secret: ${statusWrites.length} status writes, ${secretReads.length} Secret reads, ${jobs.length} Job requests`
      )
      // Each backup: its Failed status once (two if a write conflicted and was retried); no Job; the Secret read
      // before it failed, not again.
      expect(statusWrites.length).toBeGreaterThanOrEqual(2)
      expect(statusWrites.length).toBeLessThanOrEqual(4)
      expect(jobs).toEqual([])
      expect(secretReads.length).toBeLessThanOrEqual(4)
      const quiet = audit.events(failedAt).filter((event) => byOperator(event) && ours(event.objectRef?.name ?? ""))
      expect(quiet.map((event) => `${event.verb} ${event.objectRef?.resource}/${event.objectRef?.name}`)).toEqual([])
      // The failed backups left the instance's generated Secret byte for byte as it was, its admin key verifying.
      place().expectSecretsKept(secretsBefore)
      await place().finish()
    }, 120_000)
  })

  describe("backup Jobs that fail", () => {
    const place = placeFor("fault-backup-jobs", "jobs-app")

    it("wrong credentials and an unreachable endpoint in the cluster (Jobs made to fail): Failed with what the store container said; one Job each; quiet after", async () => {
      const { ns, instance, convexBackup, phaseOf, eventsAbout, operatorRequests, jobCreations } = place()
      const secretsBefore = place().secrets()
      const failing = await Promise.all([
        cluster.run(failJobPods({ namespace: ns, jobNamePrefix: "wrong-credentials-" })),
        cluster.run(failJobPods({ namespace: ns, jobNamePrefix: "unreachable-" }))
      ])
      try {
        const offset = audit.offset()
        kubectl([
          "create",
          "secret",
          "generic",
          "wrong",
          "-n",
          ns,
          `--from-literal=AWS_ACCESS_KEY_ID=${s3.accessKeyId}`,
          "--from-literal=AWS_SECRET_ACCESS_KEY=wrong-secret-access-key-0123456789"
        ])
        kubectl([
          "create",
          "secret",
          "generic",
          "right",
          "-n",
          ns,
          `--from-literal=AWS_ACCESS_KEY_ID=${s3.accessKeyId}`,
          `--from-literal=AWS_SECRET_ACCESS_KEY=${s3.secretAccessKey}`
        ])
        const started = Date.now()
        // One backup per instance at a time: the second waits (Pending) for the first.
        convexBackup("wrong-credentials", s3Target("wrong"))
        convexBackup("unreachable", s3Target("right", `http://127.0.0.1:${await closedPort()}`))
        const backups = [
          await phaseOf("wrong-credentials", ["Failed", "Completed"], 150_000),
          await phaseOf("unreachable", ["Failed", "Completed"], 150_000)
        ]
        timings.push(`two failing backup Jobs Failed after ${((Date.now() - started) / 1000).toFixed(1)}s`)
        const warnings = eventsAbout(instance).filter((e: Json) => e.type === "Warning" && e.reason === "BackupFailed")
        for (const backup of backups) {
          const name = backup.metadata.name
          expect(backup.status.phase).toBe("Failed")
          // The Job's reason and what its failed store container said (kwok's words stand in for the store
          // command's, whose own words the first test checks).
          expect(backup.status.message).toBe(
            `backup ${name} failed: BackoffLimitExceeded: Job has reached the specified backoff limit; store: failed on purpose by the test cluster (kwok Stage job-pod-failed); see kubectl logs job/${name}-backup -n ${ns} --all-containers`
          )
          expect(warnings.filter((e: Json) => e.note === backup.status.message)).toHaveLength(1)
          const pods = kubectl.json<Json>(["pods", "-n", ns, "-l", `batch.kubernetes.io/job-name=${name}-backup`])
          expect(pods?.items.length).toBeGreaterThanOrEqual(1)
          expect(pods?.items.length).toBeLessThanOrEqual(2) // backoffLimit 1
        }
        const failedAt = audit.offset()
        await sleep(quietMillis)
        const ours = (name: string) => name.startsWith("wrong-credentials") || name.startsWith("unreachable")
        for (const name of ["wrong-credentials", "unreachable"]) {
          expect(jobCreations(offset, `${name}-backup`), name).toBe(1)
        }
        const statusWrites = writes(operatorRequests(offset, "convexbackups", ours, "status"))
        timings.push(`failing Jobs: ${statusWrites.length} status writes for two backups`)
        // Pending (the second), Running, Failed: a few writes each, not one per reconcile.
        expect(statusWrites.length).toBeLessThanOrEqual(8)
        const quiet = audit.events(failedAt).filter((event) => byOperator(event) && ours(event.objectRef?.name ?? ""))
        expect(quiet.map((event) => `${event.verb} ${event.objectRef?.resource}/${event.objectRef?.name}`)).toEqual([])
      } finally {
        for (const policy of failing) await cluster.run(policy.stop)
      }
      place().expectSecretsKept(secretsBefore)
      await place().finish()
    }, 300_000)
  })
})

describe("a restore that fails", () => {
  const place = placeFor("fault-backup-restore", "origin")

  it("Failed and never Ready; the retry annotation imports once more; no further import after success, not even across an operator restart", async () => {
    const { ns, instance, convexBackup, convexInstance, phaseOf, get, eventsAbout, jobCreations, operator } = place()
    // The generated Secrets after each phase: the origin's byte for byte as before, the restored instance's from the
    // moment it has one, and every admin key verifying against its instance secret.
    const originBefore = place().secrets()
    convexBackup("source", { pvc: {} })
    await phaseOf("source", ["Completed"], 120_000)
    const failing = await cluster.run(failJobPods({ namespace: ns, jobNamePrefix: "restored-restore" }))
    const offset = audit.offset()
    // Every look at the instance checks that it is not Ready before its restore succeeded.
    // ... and every restore status seen, in order (no repeats).
    const readyEarly: Array<string> = []
    const seen: Array<string> = []
    const watchReady = (object: Json | undefined) => {
      const phase = object?.status?.restore?.phase
      if (conditionOf(object, "Ready")?.status === "True" && phase !== "Succeeded") readyEarly.push(String(phase))
      const restore = `${phase} ${object?.status?.restore?.attempt ?? 1}: ${object?.status?.restore?.message ?? ""}`
      if (phase !== undefined && seen.at(-1) !== restore) seen.push(restore)
      return object
    }
    const started = Date.now()
    try {
      convexInstance("restored", { restore: { from: { backup: "source" } } })
      const failed = await eventually(
        "the restore Failed",
        () => {
          const object = watchReady(get("convexinstance", "restored"))
          return object?.status?.restore?.phase === "Failed" ? object : undefined
        },
        { timeoutMillis: 150_000, intervalMillis: 250, detail: () => operator().logTail(20) }
      )
      timings.push(`restore Failed after ${((Date.now() - started) / 1000).toFixed(1)}s`)
      expect(failed.status.phase).toBe("Error")
      expect(failed.status.restore).toMatchObject({ source: "backup/source", job: "restored-restore" })
      expect(failed.status.restore.message).toContain(`annotate the instance ${retryRestore}=<a new value>`)
      expect(conditionOf(failed, "RestoreCompleted")).toMatchObject({ status: "False", reason: "RestoreFailed" })
      expect(conditionOf(failed, "Ready")).toMatchObject({ status: "False", reason: "RestoreFailed" })
      const warnings = eventsAbout("restored").filter((e: Json) => e.type === "Warning" && e.reason === "RestoreFailed")
      expect(warnings.length).toBeGreaterThanOrEqual(1)
      // Stopped: in a quiet window no second import Job, and still not Ready.
      await sleep(quietMillis)
      expect(watchReady(get("convexinstance", "restored"))?.status.restore.phase).toBe("Failed")
      expect(jobCreations(offset, "restored-restore")).toBe(1)
      expect(readyEarly).toEqual([])
    } finally {
      await cluster.run(failing.stop)
    }
    place().expectSecretsKept(originBefore, [instance, "restored"])
    const afterFailure = place().secrets([instance, "restored"])

    // A new value of the annotation runs the import once more (kwok now completes the Job's pods).
    kubectl(["annotate", "convexinstance", "restored", "-n", ns, `${retryRestore}=first`])
    const retried = Date.now()
    const restored = await eventually(
      "the retried restore Succeeded and the instance Ready",
      () => {
        const object = watchReady(get("convexinstance", "restored"))
        return object?.status?.restore?.phase === "Succeeded" && conditionOf(object, "Ready")?.status === "True"
          ? object
          : undefined
      },
      { timeoutMillis: 120_000, intervalMillis: 100, detail: () => operator().logTail(20) }
    )
    timings.push(`retried restore Ready after ${((Date.now() - retried) / 1000).toFixed(1)}s`)
    expect(readyEarly).toEqual([])
    // The retry reads the same backup: it never waits for it as if it were gone.
    expect(
      seen.filter((status) => status.includes("not found")),
      seen.join("\n")
    ).toEqual([])
    expect(restored.status.restore).toMatchObject({ phase: "Succeeded", attempt: 2, job: "restored-restore" })
    expect(conditionOf(restored, "RestoreCompleted")).toMatchObject({ status: "True" })
    const job = get("job", "restored-restore")
    expect(job?.metadata.annotations?.["convex.icod.de/attempt"]).toBe("2")
    expect(jobCreations(offset, "restored-restore")).toBe(2)
    place().expectSecretsKept(afterFailure, [instance, "restored"])

    // Once Succeeded: a new annotation value and an operator restart create no import Job.
    const afterSuccess = audit.offset()
    kubectl(["annotate", "convexinstance", "restored", "-n", ns, `${retryRestore}=second`, "--overwrite"])
    await sleep(5000)
    await place().restart()
    // The restarted operator lists everything and reconciles every instance; touch this one too.
    kubectl(["annotate", "convexinstance", "restored", "-n", ns, "e2e/touch=1", "--overwrite"])
    await eventually(
      "the restarted operator reconciled both instances",
      async () => {
        const metrics = await (await fetch(operator().metricsUrl)).text()
        const counts = [
          ...metrics.matchAll(/^controller_runtime_reconcile_total\{[^}]*controller="convexinstance"[^}]*\} (\d+)/gm)
        ].map((match) => Number(match[1]))
        return counts.reduce((sum, count) => sum + count, 0) >= 2 || undefined
      },
      { timeoutMillis: 30_000, detail: () => operator().logTail(20) }
    )
    await sleep(10_000)
    expect(jobCreations(afterSuccess, "restored-restore")).toBe(0)
    expect(get("job", "restored-restore")?.metadata.uid).toBe(job?.metadata.uid)
    const after = get("convexinstance", "restored")
    expect(after?.status.restore).toMatchObject({ phase: "Succeeded", attempt: 2 })
    expect(conditionOf(after, "Ready")?.status).toBe("True")
    place().expectSecretsKept(afterFailure, [instance, "restored"])
    await place().finish()
  }, 420_000)
})
