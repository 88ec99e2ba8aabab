/**
 * Fault injection: RBAC. Against the full local cluster with an audit log of every request:
 *
 * 1. A namespaced install: the ServiceAccount, Roles and RoleBindings the Helm chart renders for
 *    `rbac.scope=namespaced` (applied for real), the operator run with `--namespaces` and that account's token.
 *    Instances in both namespaces become Ready, one in a third namespace is left alone (no status, no children, not
 *    a single request there), and the audit log shows no request of that account outside its namespaces.
 * 2. Permissions taken away at run time: with the generated ClusterRole, `patch` on statefulsets and `create` on
 *    services are removed while the operator runs, and an instance is changed so that its StatefulSet must be
 *    patched and its dashboard Service created. The instance says what is missing (Ready=False, reason Forbidden,
 *    messages naming verb and resource, a Warning event, no Secret data), the operator keeps running, retries with
 *    a growing backoff (counted in the audit log), and recovers by itself once the permissions are back.
 */

import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { install } from "convex-operator"
import { beforeAll, describe, expect, it } from "vitest"
import { parseAllDocuments } from "yaml"
import { ensureHelm } from "../image/helm.js"
import { useLocalCluster } from "../integration/support.js"
import { crdPaths, repoRoot } from "../support/manifests.js"
import { auditLog } from "./support/audit.js"
import { cleanUpAfterFile, endOf } from "./support/clean-up.js"
import {
  converge,
  generatedSecrets,
  type Json,
  kubeHelpers,
  readyOn,
  secretProblems,
  sleep,
  v1
} from "./support/fault.js"
import { conditionOf, eventually, type Kubectl, makeKubectl } from "./support/kube.js"
import { bundleOperator, type OperatorProcess, startOperator } from "./support/operator-process.js"
import { byUser, canI, describeRequest, readClusterRole, scopeOf, withoutVerb } from "./support/rbac-rules.js"
import { operatorKubeconfig, serviceAccountKubeconfig } from "./support/service-account-kubeconfig.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-fault-rbac-"))
const audit = auditLog(work)
const cluster = useLocalCluster({ components: "full", crds: crdPaths, apiserverArgs: audit.apiserverArgs }, 180_000)

/** The namespaced install: a release of the chart in its own namespace, watching two namespaces. */
const scoped = {
  release: "rbac-scoped",
  namespace: "rbac-operators",
  watched: ["rbac-a", "rbac-b"],
  ignored: "rbac-c"
} as const
/** The namespace of the run-time denial (the cluster-wide install). */
const runtimeNs = "rbac-runtime"
const clusterUser = `system:serviceaccount:${install.namespace}:${install.serviceAccount}`

let kubectl: Kubectl
let helpers: ReturnType<typeof kubeHelpers>
let helmBinary: string
let bundle: string
let operator: OperatorProcess | undefined
const summary: Array<string> = []

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  helpers = kubeHelpers(kubectl)
  helmBinary = await ensureHelm()
  bundle = await bundleOperator(work)
}, 600_000)

cleanUpAfterFile({
  label: "[fault rbac]",
  work,
  // The run-time test leaves its operator running: exit 0 on SIGTERM here (a hang at shutdown fails too).
  stop: async () => [await endOf("operator", operator)],
  summary: () => summary.join("; ")
})

const instance = (name: string, namespace: string, phase = "one", dashboard = true) => ({
  apiVersion: "convex.icod.de/v1alpha1",
  kind: "ConvexInstance",
  metadata: { name, namespace },
  spec: {
    environment: "dev",
    version: v1,
    backend: { env: [{ name: "RBAC_PHASE", value: phase }] },
    dashboard: { enabled: dashboard }
  }
})

const read = (namespace: string) => () => helpers.instances(namespace)
const log = () => operator?.logTail(20) ?? ""
const phaseOf = (name: string, namespace: string): unknown =>
  kubectl
    .json<Json>(["statefulset", `${name}-backend`, "-n", namespace])
    ?.spec.template.spec.containers[0].env.find((env: Json) => env.name === "RBAC_PHASE")?.value

/** `helm template` of the chart with `values`, as objects. */
const render = (release: string, namespace: string, values: ReadonlyArray<string>): ReadonlyArray<Json> =>
  parseAllDocuments(
    execFileSync(helmBinary, ["template", release, path.join(repoRoot, "dist/chart"), "-n", namespace, ...values], {
      encoding: "utf8",
      env: {
        ...process.env,
        HELM_CACHE_HOME: path.join(work, "helm-cache"),
        HELM_CONFIG_HOME: path.join(work, "helm-config"),
        HELM_DATA_HOME: path.join(work, "helm-data")
      }
    })
  )
    .map((doc) => doc.toJS() as Json | null)
    .filter((object): object is Json => object !== null)

describe("RBAC faults", () => {
  it("namespaced install: Ready in both watched namespaces, the third ignored, no cluster-scope request", async () => {
    const objects = render(scoped.release, scoped.namespace, [
      "--set",
      "rbac.scope=namespaced",
      "--set",
      `watchNamespaces={${scoped.watched.join(",")}}`,
      "--set",
      "leaderElection.enabled=false"
    ])
    expect(objects.filter((object) => object.kind.startsWith("Cluster"))).toEqual([])
    const rbac = objects.filter((object) => ["ServiceAccount", "Role", "RoleBinding"].includes(object.kind))
    expect(rbac.map((object) => `${object.kind} ${object.metadata.namespace}`).sort()).toEqual(
      [
        ...scoped.watched.flatMap((namespace) => [`Role ${namespace}`, `RoleBinding ${namespace}`]),
        `ServiceAccount ${scoped.namespace}`
      ].sort()
    )
    for (const namespace of [scoped.namespace, ...scoped.watched, scoped.ignored]) helpers.namespace(namespace)
    for (const object of rbac) helpers.apply(object)
    const account = rbac.find((object) => object.kind === "ServiceAccount")?.metadata.name as string
    const user = `system:serviceaccount:${scoped.namespace}:${account}`
    // The account may act in the watched namespaces only: the Roles are in force, nothing else grants it more.
    await eventually("the Roles to be in force", () =>
      scoped.watched.every((namespace) => canI(kubectl, user, "patch", "statefulsets.apps", namespace))
        ? true
        : undefined
    )
    expect(canI(kubectl, user, "list", "convexinstances.convex.icod.de", scoped.ignored)).toBe(false)
    expect(canI(kubectl, user, "list", "namespaces", "default")).toBe(false)

    const kubeconfig = serviceAccountKubeconfig({
      kubectl,
      cluster: cluster.info(),
      namespace: scoped.namespace,
      serviceAccount: account,
      file: path.join(work, "scoped.kubeconfig")
    })
    const from = audit.offset()
    const started = Date.now()
    operator = await startOperator({
      kubeconfig,
      logDir: work,
      bundle,
      args: [`--namespaces=${scoped.watched.join(",")}`, "--operator-image=registry.example/convex-operator:rbac"]
    })
    for (const namespace of [...scoped.watched, scoped.ignored]) helpers.apply(instance("scoped", namespace))
    for (const namespace of scoped.watched) {
      await converge(`${namespace}/scoped Ready`, ["scoped"], read(namespace), (object) => readyOn(object, v1), { log })
    }
    summary.push(`namespaced: both Ready in ${((Date.now() - started) / 1000).toFixed(1)}s`)
    // Both watched instances went through a whole reconcile since the third was created; a few seconds more for
    // good measure, then it must still be untouched.
    await sleep(3000)
    const ignored = kubectl.json<Json>(["convexinstance", "scoped", "-n", scoped.ignored])
    expect(ignored?.status).toBeUndefined()
    expect(ignored?.metadata.finalizers ?? []).toEqual([])
    const children = kubectl.json<Json>([
      "statefulsets,deployments,services,configmaps,secrets,persistentvolumeclaims,jobs,serviceaccounts,roles",
      "-n",
      scoped.ignored,
      "-l",
      "app.kubernetes.io/managed-by=convex-operator"
    ])
    expect(children?.items ?? []).toEqual([])

    // Every request the account made names one of its namespaces, or reads discovery (see scopeOf).
    const requests = byUser(audit.events(from), user)
    expect(requests.length).toBeGreaterThan(20)
    const outside = requests.filter(
      (event) =>
        scopeOf(event) === "cluster" ||
        (scopeOf(event) === "namespaced" &&
          !(scoped.watched as ReadonlyArray<string>).includes(event.objectRef?.namespace ?? ""))
    )
    expect(outside.map(describeRequest)).toEqual([])
    expect(requests.filter((event) => (event.responseStatus?.code ?? 0) === 403).map(describeRequest)).toEqual([])
    const discovery = requests.filter((event) => scopeOf(event) === "discovery").length
    summary.push(
      `namespaced: ${requests.length} requests, ${discovery} of them discovery, 0 outside ${scoped.watched.join("+")}`
    )

    expect(await operator.stop(), "the namespaced operator exits 0 on SIGTERM").toBe(0)
    operator = undefined
  }, 300_000)

  it("a permission removed at run time: Ready=False/Forbidden naming it, a Warning, backoff, recovery once granted", async () => {
    const info = cluster.info()
    helpers.namespace(install.namespace)
    helpers.namespace(runtimeNs)
    const kubeconfig = operatorKubeconfig(kubectl, info, work)
    operator = await startOperator({
      kubeconfig,
      logDir: work,
      bundle,
      args: [`--namespaces=${runtimeNs}`, "--operator-image=registry.example/convex-operator:rbac"]
    })
    const pid = operator.pid
    helpers.apply(instance("denied", runtimeNs, "one", false))
    const readInstance = read(runtimeNs)
    await converge("the instance Ready", ["denied"], readInstance, (object) => readyOn(object, v1), { log })
    expect(phaseOf("denied", runtimeNs)).toBe("one")
    const secretsBefore = generatedSecrets(kubectl, runtimeNs, ["denied"])

    // Take patch on statefulsets and create on services out of the ClusterRole (the operator keeps the rest).
    const original = readClusterRole(kubectl, install.role)
    const reduced = {
      ...original,
      rules: withoutVerb(withoutVerb(original.rules, "apps", "statefulsets", "patch"), "", "services", "create")
    }
    kubectl(["replace", "-f", "-"], JSON.stringify(reduced))
    await eventually("patch on statefulsets and create on services to be denied", () =>
      canI(kubectl, clusterUser, "patch", "statefulsets.apps", runtimeNs) ||
      canI(kubectl, clusterUser, "create", "services", runtimeNs)
        ? undefined
        : true
    )
    expect(canI(kubectl, clusterUser, "patch", "deployments.apps", runtimeNs)).toBe(true)
    expect(canI(kubectl, clusterUser, "patch", "services", runtimeNs)).toBe(true)

    const from = audit.offset()
    // A new env (the StatefulSet must be patched) and the dashboard (its Service must be created).
    helpers.apply(instance("denied", runtimeNs, "two", true))
    const changed = kubectl.json<Json>(["convexinstance", "denied", "-n", runtimeNs])
    const reported = await eventually(
      "Ready=False with reason Forbidden",
      () => {
        const object = readInstance().find((item) => item.metadata.name === "denied")
        const ready = conditionOf(object, "Ready")
        return ready?.status === "False" && ready.reason === "Forbidden" ? object : undefined
      },
      { timeoutMillis: 60_000, detail: log }
    )
    const ready = conditionOf(reported, "Ready")
    const statefulSetReady = conditionOf(reported, "StatefulSetReady")
    const serviceReady = conditionOf(reported, "DashboardServiceReady")
    summary.push(`StatefulSetReady: ${statefulSetReady?.message}`, `DashboardServiceReady: ${serviceReady?.message}`)
    expect(statefulSetReady).toMatchObject({ status: "False", reason: "Forbidden" })
    expect(statefulSetReady?.message).toContain(
      `may not patch statefulsets.apps in namespace ${runtimeNs} (as ${clusterUser})`
    )
    expect(statefulSetReady?.message).toContain('needs "patch" on "statefulsets" in API group "apps"')
    // The apiserver's create check inside a server-side apply does not say what was denied; the operator knows the
    // Service did not exist.
    expect(serviceReady).toMatchObject({ status: "False", reason: "Forbidden" })
    expect(serviceReady?.message).toContain(`may not create services in namespace ${runtimeNs}`)
    expect(serviceReady?.message).toContain('needs "create" on "services" in API group ""')
    expect([statefulSetReady?.message, serviceReady?.message]).toContain(ready?.message)
    expect(reported?.status.phase).toBe("Error")
    const warnings = await eventually("a Warning event Forbidden", () => {
      const events = (kubectl.json<Json>(["events.events.k8s.io", "-n", runtimeNs])?.items ?? []).filter(
        (event: Json) => event.reason === "Forbidden" && event.regarding?.name === "denied"
      )
      return events.length > 0 ? events : undefined
    })
    expect(warnings.map((event: Json) => event.type)).toEqual(warnings.map(() => "Warning"))
    expect(warnings[0].note).toBe(`Ready=False: ${ready?.message}`)

    // No Secret data anywhere the failure is told: the condition, the events, the operator's log.
    const secrets = (kubectl.json<Json>(["secrets", "-n", runtimeNs])?.items ?? []).flatMap((secret: Json) =>
      Object.values((secret.data ?? {}) as Record<string, string>)
    )
    expect(secrets.length).toBeGreaterThan(0)
    const told = [
      JSON.stringify(reported?.status),
      JSON.stringify(warnings),
      fs.readFileSync(operator.logFile, "utf8")
    ].join("\n")
    for (const value of secrets) {
      const plain = Buffer.from(value, "base64").toString("utf8")
      if (plain.length >= 8) expect(told.includes(plain), "a Secret value was told").toBe(false)
      expect(told.includes(value), "a Secret value (base64) was told").toBe(false)
    }

    // Backoff: the denied patches of one minute after the first, from the audit log.
    const denied = () =>
      byUser(audit.events(from), clusterUser).filter(
        (event) =>
          event.verb === "patch" &&
          event.objectRef?.resource === "statefulsets" &&
          event.objectRef.name === "denied-backend" &&
          event.responseStatus?.code === 403
      )
    const first = Date.parse(denied()[0]?.requestReceivedTimestamp ?? "")
    expect(Number.isNaN(first)).toBe(false)
    await sleep(Math.max(0, first + 61_000 - Date.now()))
    const offsets = denied().map((event) => (Date.parse(event.requestReceivedTimestamp ?? "") - first) / 1000)
    const inMinute = offsets.filter((offset) => offset < 60)
    const everything = byUser(audit.events(from), clusterUser).filter(
      (event) => Date.parse(event.requestReceivedTimestamp ?? "") - first < 60_000
    )
    summary.push(
      `denied: ${inMinute.length} refused patches in the first minute at ${inMinute.map((o) => o.toFixed(1)).join(",")}s; ${everything.length} requests in all`
    )
    // The work queue's backoff doubles from 5 ms: about 14 attempts in a minute, the gaps growing; a loop without
    // backoff would make hundreds. The status and event writes stay few as well.
    expect(inMinute.length).toBeGreaterThanOrEqual(3)
    expect(inMinute.length).toBeLessThanOrEqual(20)
    expect(inMinute.filter((offset) => offset >= 30).length).toBeLessThanOrEqual(2)
    expect(everything.length).toBeLessThanOrEqual(100)
    expect(phaseOf("denied", runtimeNs)).toBe("one")
    expect(kubectl.json(["service", "denied-dashboard", "-n", runtimeNs])).toBeUndefined()
    expect(operator.running()).toBe(true)
    expect(operator.pid).toBe(pid)

    // Grant it again; nothing else changes, and the operator recovers at its next retry.
    kubectl(["replace", "-f", "-"], JSON.stringify(original))
    await eventually("the permissions to be back", () =>
      canI(kubectl, clusterUser, "patch", "statefulsets.apps", runtimeNs) &&
      canI(kubectl, clusterUser, "create", "services", runtimeNs)
        ? true
        : undefined
    )
    const restored = Date.now()
    await converge(
      "the instance Ready on the changed StatefulSet",
      ["denied"],
      readInstance,
      (object) =>
        readyOn(object, v1) &&
        phaseOf("denied", runtimeNs) === "two" &&
        kubectl.json(["service", "denied-dashboard", "-n", runtimeNs]) !== undefined,
      { log, timeoutMillis: 200_000 }
    )
    summary.push(`recovered ${((Date.now() - restored) / 1000).toFixed(1)}s after the permission was back`)
    expect(kubectl.json<Json>(["convexinstance", "denied", "-n", runtimeNs])?.metadata.generation).toBe(
      changed?.metadata.generation
    )
    expect(operator.running()).toBe(true)
    expect(operator.pid).toBe(pid)
    // Through the denial and the recovery the generated Secret stayed byte for byte what it was, its admin key
    // verifying against its instance secret.
    expect(secretProblems(secretsBefore, generatedSecrets(kubectl, runtimeNs, ["denied"]))).toEqual([])
  }, 420_000)
})
