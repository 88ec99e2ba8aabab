/**
 * Fault injection, part 4: deleting an instance while something is down. Each test has its own namespace, instance
 * and operator (one replica, no leader election).
 *
 * The apiserver goes down while the operator finalizes: the operator runs with a client-side rate limit of 5 requests
 * a second, so its finalizer's requests are 200 ms apart; the moment the audit log shows the finalizer's first request
 * (its list of the instance's Jobs) the apiserver is frozen (SIGSTOP), killed (SIGKILL) 3 s later and started again. The operator
 * dies while an instance is deleted: it is stopped first, the instance deleted, and nothing happens until it is
 * started again.
 *
 * These instances' data claims go with them (`deletionPolicy: Delete`), so they hold the finalizer. Either way the
 * finalizer completes once both are back and every child kind of core's `childKinds` (and every pod) is gone from the
 * namespace, the claim too. An instance that keeps its claim (the default `Retain`) holds no finalizer: deleted while
 * the operator is stopped, it goes at once with every child but the claim.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { install } from "convex-operator"
import { Effect } from "effect"
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import { useLocalCluster } from "../integration/support.js"
import { crdPaths } from "../support/manifests.js"
import { auditLog, byOperator } from "./support/audit.js"
import { cleanUpAfterFile } from "./support/clean-up.js"
import { objectsIn } from "./support/crash-scene.js"
import { converge, type Json, kubeHelpers, sleep, v1 } from "./support/fault.js"
import { startGatewayController } from "./support/gateway-controller.js"
import { conditionOf, eventually, type Kubectl, makeKubectl } from "./support/kube.js"
import { followAudit, receivedAt, succeeded } from "./support/leader-audit.js"
import { bundleOperator, type OperatorProcess, startOperator } from "./support/operator-process.js"
import { operatorKubeconfig } from "./support/service-account-kubeconfig.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-fault-delete-"))
const audit = auditLog(work)
const cluster = useLocalCluster(
  { components: "full", gatewayApi: true, crds: crdPaths, apiserverArgs: audit.apiserverArgs },
  180_000
)

let kubectl: Kubectl
let helpers: ReturnType<typeof kubeHelpers>
let bundle: string
let operatorConfig: string
let stopGateways: () => Promise<void>
let operator: OperatorProcess | undefined
const timings: Array<string> = []

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  helpers = kubeHelpers(kubectl)
  helpers.namespace(install.namespace)
  // The stand-in Gateway controller, not Envoy Gateway: this file tests the operator, not how an implementation
  // judges its routes (gateway-envoy.test.ts does that), and needs no podman.
  stopGateways = startGatewayController(info.objects)
  operatorConfig = operatorKubeconfig(kubectl, info, work)
  bundle = await bundleOperator(work)
}, 120_000)

// A test that failed before stopping its operator must not leave it running into the next test.
afterEach(async () => {
  if (operator?.running() === true) await operator.stop()
})

cleanUpAfterFile({
  label: "[fault delete]",
  work,
  // The tests stop their operators and assert the exit codes; this stops one a failed test left running.
  stop: async () => {
    const code = operator?.running() === true ? await operator.stop() : null
    await stopGateways?.()
    return code
  },
  summary: () => `${timings.join(", ")} (each test asserts its own operator's exit code)`
})

const runOperator = (args: ReadonlyArray<string> = []) =>
  startOperator({
    kubeconfig: operatorConfig,
    logDir: work,
    bundle,
    args: ["--operator-image=registry.example/convex-operator:fault", ...args]
  })

/**
 * A Ready instance `ns/name` with a data claim (bound to a volume made for it) that goes with it or stays
 * (`deletionPolicy`), a dashboard and a route.
 */
const readyInstance = async (ns: string, name: string, deletionPolicy: "Delete" | "Retain") => {
  helpers.namespace(ns)
  helpers.apply({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: `${ns}-${name}-data` },
    spec: {
      claimRef: { namespace: ns, name: `${name}-backend-pvc` },
      capacity: { storage: "10Gi" },
      accessModes: ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: "Retain",
      storageClassName: "",
      hostPath: { path: `/tmp/${ns}-${name}-data` }
    }
  })
  helpers.apply({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name, namespace: ns },
    spec: {
      environment: "dev",
      version: v1,
      backend: { storage: { pvc: { enabled: true, deletionPolicy } } },
      dashboard: { enabled: true },
      networking: { host: `${name}.example.com` }
    }
  })
  await converge(
    `${ns}/${name} Ready`,
    [name],
    () => helpers.instances(ns),
    (object) => conditionOf(object, "Ready")?.status === "True",
    { log: () => operator?.logTail(20) ?? "" }
  )
}

/**
 * What is left in `ns` of every kind an instance may own (core's `childKinds`) and pods, as `Kind/name` (the
 * namespace's own ConfigMap and ServiceAccount aside; kinds the cluster does not serve have none).
 */
const leftovers = (ns: string): ReadonlyArray<string> =>
  objectsIn(kubectl, ns)
    .map(
      (item) =>
        `${item.kind}/${item.metadata.name}${item.metadata.deletionTimestamp === undefined ? "" : " (deleting)"}`
    )
    .filter((item) => item !== "ConfigMap/kube-root-ca.crt" && item !== "ServiceAccount/default")

/** The instance gone, and of its children only `kept` left (not being deleted). */
const deletedLeaving = async (ns: string, name: string, kept: ReadonlyArray<string>) => {
  await converge(
    `${ns}/${name} gone`,
    [name],
    () => helpers.instances(ns),
    (object) => object === undefined,
    {
      log: () => operator?.logTail(20) ?? ""
    }
  )
  await eventually(
    kept.length === 0 ? "no child left" : `no child left but ${kept.join(", ")}`,
    () => (JSON.stringify(leftovers(ns)) === JSON.stringify(kept) ? true : undefined),
    { timeoutMillis: 90_000, intervalMillis: 500, detail: () => `left: ${leftovers(ns).join(", ")}` }
  )
  expect(leftovers(ns)).toEqual(kept)
}

describe("fault injection: deletion while something is down", () => {
  it("the apiserver down while the operator finalizes: the deletion completes when it is back", async () => {
    const started = Date.now()
    const ns = "fault-delete-apiserver"
    const name = "doomed"
    operator = await runOperator(["--kube-api-qps=5", "--kube-api-burst=1"])
    await readyInstance(ns, name, "Delete")
    const { faults } = cluster.info()
    const deletedFrom = audit.offset()
    const tail = followAudit(audit, deletedFrom)
    const logged = fs.statSync(operator.logFile).size
    kubectl(["delete", "convexinstance", name, "-n", ns, "--wait=false"])
    // The finalizer's first request: the list of the instance's Jobs (the operator's caches list cluster-wide).
    const first = await tail.waitFor(
      "the finalizer's list of Jobs",
      (event) =>
        byOperator(event) &&
        event.verb === "list" &&
        event.objectRef?.resource === "jobs" &&
        event.objectRef.namespace === ns
    )
    // Down at once: frozen (the finalizer's next request hangs), then killed, which breaks that request, and started
    // again. (A SIGKILL of the original apiserver followed by a restart made the harness lose the cluster's folder.)
    faults.signal("kube-apiserver", "SIGSTOP")
    const killedAt = Date.now()
    console.log(`[fault delete] froze the apiserver ${killedAt - receivedAt(first)} ms after the finalizer began`)
    try {
      await sleep(3000)
    } finally {
      await Effect.runPromise(faults.restart("kube-apiserver", "SIGKILL"))
    }
    const restartedAt = Date.now()
    timings.push(`apiserver down ${((restartedAt - killedAt) / 1000).toFixed(1)}s`)
    await deletedLeaving(ns, name, [])

    // The finalizer ran into the dead apiserver and was retried; the patch that removed it came after the restart.
    // Which request hung depends on whether the list's answer left before the freeze: a cleanup request (`finalizing
    // …`), or, with nothing to clean up, the removal of the finalizer itself.
    const since = fs.readFileSync(operator.logFile, "utf8").slice(logged)
    expect(since).toMatch(
      new RegExp(`finalizing ${ns}/${name}|removing the finalizer \\S+ of ConvexInstance ${ns}/${name}`)
    )
    const removal = audit
      .events(deletedFrom)
      .filter(
        (event) =>
          byOperator(event) &&
          event.verb === "patch" &&
          event.objectRef?.resource === "convexinstances" &&
          event.objectRef.namespace === ns &&
          event.objectRef.name === name &&
          event.objectRef.subresource === undefined &&
          succeeded(event)
      )
    expect(removal.length).toBeGreaterThanOrEqual(1)
    expect(Math.min(...removal.map(receivedAt))).toBeGreaterThan(killedAt)
    expect(await operator.stop()).toBe(0)
    timings.push(`apiserver-down test ${((Date.now() - started) / 1000).toFixed(1)}s`)
  }, 240_000)

  it("the operator stopped before the deletion: the finalizer completes when it starts again; without one, nothing waits", async () => {
    const started = Date.now()
    const ns = "fault-delete-operator"
    const name = "orphan"
    const retainedNs = "fault-delete-retained"
    const retained = "kept"
    operator = await runOperator()
    await readyInstance(ns, name, "Delete")
    await readyInstance(retainedNs, retained, "Retain")
    expect(kubectl.json<Json>(["convexinstance", retained, "-n", retainedNs])?.metadata.finalizers).toBeUndefined()
    expect(await operator.stop()).toBe(0)
    kubectl(["delete", "convexinstance", name, "-n", ns, "--wait=false"])
    kubectl(["delete", "convexinstance", retained, "-n", retainedNs, "--wait=false"])
    // The instance that keeps its claim holds no finalizer: it goes without the operator, its children with it
    // (the garbage collector), the claim stays.
    await deletedLeaving(retainedNs, retained, [`PersistentVolumeClaim/${retained}-backend-pvc`])
    // Without the operator the finalizer holds the other instance, and with it every child.
    const held = kubectl.json<Json>(["convexinstance", name, "-n", ns])
    expect(held?.metadata.deletionTimestamp).toBeDefined()
    expect(held?.metadata.finalizers).toContain("convex.icod.de/finalizer")
    expect(leftovers(ns)).toContain(`StatefulSet/${name}-backend`)
    operator = await runOperator()
    await deletedLeaving(ns, name, [])
    expect(await operator.stop()).toBe(0)
    timings.push(`operator-down test ${((Date.now() - started) / 1000).toFixed(1)}s`)
  }, 300_000)
})
