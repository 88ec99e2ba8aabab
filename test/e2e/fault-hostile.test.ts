/**
 * Fault injection, part 2: two operator replicas with leader election, and hostile input.
 *
 * Two replicas (POD_NAME replica-a and replica-b, each with its own ServiceAccount token, so the audit log tells
 * them apart by credential id) run against the full cluster. While replica-a leads, the admission corpus (every
 * invalid spec, hostile ones included) is sent to the apiserver and must be refused naming the field; hostile specs
 * the apiserver admits are created beside a healthy instance, which must still go Ready; each admitted one must
 * end Ready or with a condition that explains it. The standby makes no request but for the Lease, and no Secret
 * outside the instances' namespace is read. Then the leader is killed: the standby takes over within the lease
 * duration plus two jittered retry periods and finishes the work.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { install } from "convex-operator"
import { beforeAll, describe, expect, it } from "vitest"
import { invalidSpecs, valid } from "../integration/admission-corpus.js"
import { useLocalCluster } from "../integration/support.js"
import { crdPaths } from "../support/manifests.js"
import { type AuditEvent, auditLog, byOperator, writeVerbs } from "./support/audit.js"
import { cleanUpAfterFile, endOf } from "./support/clean-up.js"
import { converge, generatedSecrets, type Json, kubeHelpers, secretProblems } from "./support/fault.js"
import { startGatewayController } from "./support/gateway-controller.js"
import { admittedHostile } from "./support/hostile-specs.js"
import { conditionOf, eventually, type Kubectl, makeKubectl } from "./support/kube.js"
import { bundleOperator, type OperatorProcess, startOperator } from "./support/operator-process.js"
import { operatorKubeconfig, serviceAccountKubeconfig } from "./support/service-account-kubeconfig.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-fault-hostile-"))
const audit = auditLog(work)
const cluster = useLocalCluster(
  {
    components: "full",
    gatewayApi: true,
    crds: crdPaths,
    apiserverArgs: audit.apiserverArgs
  },
  180_000
)

const ns = "fault-hostile"
const victim = "fault-victim"
// The defaults of LeaderElection (client-go's): a standby takes over once the Lease is this old, trying this often.
const leaseDurationMillis = 15_000
const retryPeriodMillis = 2_000

let kubectl: Kubectl
let helpers: ReturnType<typeof kubeHelpers>
let stopGateways: () => Promise<void>
const replicas: Record<"a" | "b", { operator?: OperatorProcess; credential?: string }> = { a: {}, b: {} }
const timings: Array<string> = []

/** The credential id (token JTI) the apiserver logs for requests made with `kubeconfig`. */
const credentialOf = (kubeconfig: string) => {
  const token = (JSON.parse(fs.readFileSync(kubeconfig, "utf8")) as Json).users[0].user.token as string
  const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as Json
  return `JTI=${payload.jti}`
}
const credential = (event: AuditEvent) => event.user?.extra?.["authentication.kubernetes.io/credential-id"]?.[0]

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  helpers = kubeHelpers(kubectl)
  for (const name of [install.namespace, ns, victim]) helpers.namespace(name)
  // The stand-in Gateway controller, not Envoy Gateway: this file tests the operator, not how an implementation
  // judges its routes (gateway-envoy.test.ts does that), and needs no podman.
  stopGateways = startGatewayController(info.objects)
  const bundle = await bundleOperator(work)
  const configs = {
    a: operatorKubeconfig(kubectl, info, work),
    b: serviceAccountKubeconfig({
      kubectl,
      cluster: info,
      namespace: install.namespace,
      serviceAccount: install.serviceAccount,
      file: path.join(work, "operator-b.kubeconfig")
    })
  }
  for (const replica of ["a", "b"] as const) {
    replicas[replica].credential = credentialOf(configs[replica])
    replicas[replica].operator = await startOperator({
      kubeconfig: configs[replica],
      logDir: work,
      bundle,
      env: { POD_NAME: `replica-${replica}` },
      // replica-a starts first and is ready only once it leads; replica-b then waits as the standby.
      waitReady: replica === "a",
      args: ["--leader-elect", `--leader-election-namespace=${install.namespace}`]
    })
  }
}, 180_000)

cleanUpAfterFile({
  label: "[fault hostile]",
  work,
  // Each replica judged on its own: exit code 0 on SIGTERM, or (replica-a, after the failover test) the SIGKILL the
  // test sent; a crash of either, or a hang at shutdown, fails the file naming the replica.
  stop: async () => {
    const ends = [await endOf("replica-a", replicas.a.operator), await endOf("replica-b", replicas.b.operator)]
    await stopGateways?.()
    return ends
  },
  summary: () => timings.join(", ")
})

const holder = () =>
  (kubectl.json<Json>(["lease", "convex-operator-leader", "-n", install.namespace])?.spec?.holderIdentity ??
    "") as string
const read = () => helpers.instances(ns)
const instanceObject = (name: string, spec: unknown) => ({
  apiVersion: "convex.icod.de/v1alpha1",
  kind: "ConvexInstance",
  metadata: { name, namespace: ns },
  spec
})
const isReady = (object: Json | undefined) =>
  object !== undefined &&
  conditionOf(object, "Ready")?.status === "True" &&
  object.status?.observedGeneration === object.metadata.generation
/** The False conditions of an instance, as `Type: message`. */
const problems = (object: Json | undefined): ReadonlyArray<string> =>
  ((object?.status?.conditions ?? []) as ReadonlyArray<Json>)
    .filter((condition) => condition.status === "False" && condition.type !== "UpgradeInProgress")
    .map((condition) => `${condition.type}: ${condition.message}`)

describe("fault injection: leader election and hostile input", () => {
  it("refuses the admission corpus naming the field; hostile admitted specs neither crash nor stall the operator", async () => {
    const started = Date.now()
    expect(holder()).toMatch(/^replica-a_/)
    helpers.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "stolen", namespace: victim },
      stringData: { url: "postgres://victim" }
    })
    const offset = audit.offset()
    let refused = 0
    for (const [index, [what, spec, field]] of invalidSpecs.entries()) {
      const outcome = await cluster.create(instanceObject(`invalid-${index}`, spec) as never)
      expect(outcome.ok, what).toBe(false)
      if (!outcome.ok) {
        expect(
          outcome.error.causes.map((cause) => cause.field),
          what
        ).toContain(field)
        refused++
      }
    }
    for (const [index, { spec }] of admittedHostile.entries()) helpers.apply(instanceObject(`hostile-${index}`, spec))
    helpers.apply(instanceObject("healthy", valid))
    await converge("the healthy instance Ready beside the hostile ones", ["healthy"], read, isReady, {
      log: () => replicas.a.operator?.logTail(20) ?? ""
    })
    // Every admitted hostile instance reaches its outcome: Ready, or a False condition that explains it.
    const hostileNames = admittedHostile.map((_, index) => `hostile-${index}`)
    const reached = (object: Json | undefined, name: string) => {
      const outcome = admittedHostile[Number(name.slice("hostile-".length))]?.outcome
      return outcome === "Ready"
        ? isReady(object)
        : problems(object)
            .join("\n")
            .includes(outcome?.reported ?? "\0")
    }
    const report = () => {
      const outcomes = new Map(read().map((object) => [object.metadata.name as string, object]))
      return admittedHostile.map(({ what }, index) => {
        const object = outcomes.get(`hostile-${index}`)
        return `${what}: ${isReady(object) ? "Ready" : problems(object).join(" | ").slice(0, 300)}`
      })
    }
    await converge("every hostile instance at its outcome", hostileNames, read, reached, {
      log: () => report().join("\n")
    })
    console.log(`[fault hostile] ${refused} refused at admission; admitted:\n  ${report().join("\n  ")}`)
    expect(replicas.a.operator?.running()).toBe(true)
    expect(replicas.b.operator?.running()).toBe(true)

    const events = audit.events(offset).filter(byOperator)
    // Only the leader wrote; the standby asked for nothing but the Lease.
    const standby = events.filter((event) => credential(event) === replicas.b.credential)
    expect(
      standby.filter((event) => event.objectRef?.resource !== "leases").map((e) => `${e.verb} ${e.objectRef?.resource}`)
    ).toEqual([])
    const leaderWrites = events.filter(
      (event) => credential(event) === replicas.a.credential && writeVerbs.has(event.verb)
    )
    expect(leaderWrites.length).toBeGreaterThan(0)
    // No Secret read outside the instances' namespace, and no unrelated one: every list and watch of Secrets selects
    // the operator's own (managed-by label) or one referenced Secret (by name); nothing else is cluster-wide.
    const secrets = events.filter((event) => event.objectRef?.resource === "secrets")
    expect(
      secrets.filter((event) => event.objectRef?.namespace !== undefined && event.objectRef.namespace !== ns)
    ).toEqual([])
    const uri = (event: AuditEvent) => decodeURIComponent((event as { requestURI?: string }).requestURI ?? "")
    const managedOnly = /[?&]labelSelector=app\.kubernetes\.io\/managed-by=convex-operator(&|$)/
    const oneName = /[?&]fieldSelector=metadata\.name=[^&,]+(&|$)/
    const unselected = secrets.filter((event) => {
      const namespaced = event.objectRef?.namespace !== undefined
      if (event.verb !== "list" && event.verb !== "watch") return !namespaced
      return !(managedOnly.test(uri(event)) || (namespaced && oneName.test(uri(event))))
    })
    expect(unselected.map((event) => `${event.verb} ${uri(event)}`)).toEqual([])
    // The check saw the by-name reads of the referenced Secrets the hostile specs name, so it did look at something.
    expect(secrets.some((event) => event.verb === "watch" && oneName.test(uri(event)))).toBe(true)
    timings.push(`hostile ${((Date.now() - started) / 1000).toFixed(1)}s`)
  }, 180_000)

  it("the standby takes over within the lease duration and two jittered retry periods after the leader is killed, and finishes the work", async () => {
    const started = Date.now()
    // The generated Secrets of every instance that has one (the hostile specs that do not decode have none).
    const secretsBefore = new Map(
      [
        ...generatedSecrets(
          kubectl,
          ns,
          read().map((object) => object.metadata.name as string)
        )
      ].filter(([, data]) => data !== undefined)
    )
    expect(secretsBefore.size).toBeGreaterThan(1)
    await replicas.a.operator?.kill()
    const killed = Date.now()
    helpers.apply(instanceObject("after-failover", valid))
    await eventually("replica-b holds the Lease", () => (holder().startsWith("replica-b_") ? true : undefined), {
      timeoutMillis: 60_000,
      intervalMillis: 200
    })
    const takeover = Date.now() - killed
    timings.push(`takeover ${(takeover / 1000).toFixed(1)}s`)
    // client-go semantics (and ours, packages/k8s/src/LeaderElection.ts): a candidate tries once per retry period
    // stretched by a jitter of up to 1.2 (at most 2.2 retry periods apart). It sees the leader's last renewal at its
    // first try after it (at most one jittered period after the kill), and takes the Lease at its first try once the
    // lease duration has passed since then (at most one more jittered period). One more second covers the requests
    // on a loaded machine. A CI run measured 20.6 s against the 20 s bound an unjittered period gives.
    const jitteredRetryMillis = retryPeriodMillis * (1 + 1.2)
    expect(takeover).toBeLessThanOrEqual(leaseDurationMillis + 2 * jitteredRetryMillis + 1000)
    await converge("after-failover Ready", ["after-failover"], read, isReady, {
      log: () => replicas.b.operator?.logTail(20) ?? ""
    })
    const writes = audit
      .events()
      .filter((event) => byOperator(event) && writeVerbs.has(event.verb) && event.objectRef?.namespace === ns)
      .filter((event) => (event.objectRef?.name ?? "").startsWith("after-failover"))
    expect(writes.length).toBeGreaterThan(0)
    expect(new Set(writes.map(credential))).toEqual(new Set([replicas.b.credential]))
    // The new leader kept every generated Secret byte for byte, and each admin key (after-failover's too, which it
    // generated) verifies against its instance secret.
    expect(
      secretProblems(secretsBefore, generatedSecrets(kubectl, ns, [...secretsBefore.keys(), "after-failover"]))
    ).toEqual([])
    timings.push(`failover ${((Date.now() - started) / 1000).toFixed(1)}s`)
  }, 120_000)
})
