/**
 * The Helm chart (dist/chart): `helm lint`, `helm template` with the default values (the same Deployment and
 * rules as dist/install.yaml), with namespaced RBAC and with a ServiceMonitor, every flag of `run` as a value, and
 * `helm install` / `helm uninstall` and `helm upgrade` with the README's CRD step on the full local cluster (the pod
 * becomes Ready under kwok). helm is built from its Go module (test/image/helm.ts).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { crds } from "@convex-operator/core"
import {
  defaultImage,
  grafanaDashboard,
  install,
  leaderElectionRules,
  managerDeployment,
  operatorRules,
  prometheusRuleSpec,
  rootCommand,
  tuningDefaults
} from "convex-operator"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseAllDocuments, parseDocument } from "yaml"
import { parameters, resolveCommand } from "../../packages/operator/src/cli/help.js"
import { ensureHelm } from "../image/helm.js"
import { useLocalCluster } from "../integration/support.js"
import { repoRoot } from "../support/manifests.js"
import { conditionOf, eventually, type Kubectl, makeKubectl } from "./support/kube.js"

const chart = path.join(repoRoot, "dist/chart")
const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-helm-"))
const cluster = useLocalCluster({ components: "full" }, 180_000)
let helmBinary: string
let kubectl: Kubectl
const timings: Array<string> = []

beforeAll(async () => {
  const started = Date.now()
  helmBinary = await ensureHelm()
  timings.push(`helm binary: ${((Date.now() - started) / 1000).toFixed(1)}s`)
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
}, 600_000)

afterAll(() => {
  console.log(`[helm] ${timings.join(", ")}`)
  fs.rmSync(work, { recursive: true, force: true })
})

/** Runs helm with its state in the test's folder; throws with stderr on failure. */
const helm = (args: ReadonlyArray<string>): string => {
  try {
    return execFileSync(helmBinary, args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 150_000,
      env: {
        ...process.env,
        KUBECONFIG: cluster.info().kubeconfigPath,
        HELM_CACHE_HOME: path.join(work, "cache"),
        HELM_CONFIG_HOME: path.join(work, "config"),
        HELM_DATA_HOME: path.join(work, "data")
      }
    })
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string }
    throw new Error(`helm ${args.join(" ")}: ${stderr ?? ""}${stdout ?? ""}`)
  }
}

type KubeObject = {
  readonly kind: string
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> }
  readonly [key: string]: unknown
}
const render = (...values: ReadonlyArray<string>): ReadonlyArray<KubeObject> =>
  parseAllDocuments(helm(["template", "convex-operator", chart, "-n", install.namespace, ...values]))
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null)
const find = (objects: ReadonlyArray<KubeObject>, kind: string) => objects.filter((object) => object.kind === kind)

type Container = Record<string, unknown> & { args: ReadonlyArray<string>; env: ReadonlyArray<Record<string, unknown>> }
type PodSpec = Record<string, unknown> & { containers: ReadonlyArray<Container> }
const podSpec = (deployment: KubeObject | Record<string, unknown> | undefined) =>
  (deployment as { spec: { template: { spec: PodSpec } } }).spec.template.spec

/**
 * What README's uninstall does after `helm uninstall`: the namespace, then the CRDs by label (helm never deletes them).
 * The other order can leave the namespace waiting out the namespace controller's discovery backoff ("stale
 * GroupVersion discovery" while an API group goes away), which once took longer than this test waits.
 */
const uninstallRest = async () => {
  kubectl(["delete", "namespace", install.namespace, "--wait=false"])
  await eventually(
    "the namespace to be gone",
    () => (kubectl.json(["namespace", install.namespace]) === undefined ? true : undefined),
    {
      timeoutMillis: 90_000,
      detail: () => JSON.stringify(kubectl.json<{ status?: unknown }>(["namespace", install.namespace])?.status)
    }
  )
  kubectl(["delete", "crd", "-l", "app.kubernetes.io/part-of=convex-operator", "--wait=false"])
  await eventually(
    "the CRDs to be gone",
    () => (crds.every((crd) => kubectl.json(["crd", crd.metadata.name]) === undefined) ? true : undefined),
    { timeoutMillis: 60_000 }
  )
}

describe("the Helm chart", () => {
  it("passes helm lint --strict", () => {
    expect(helm(["lint", "--strict", chart])).toContain("0 chart(s) failed")
  })

  it("renders with the default values the Deployment and rules of dist/install.yaml", () => {
    const objects = render()
    expect(find(objects, "ClusterRole").map((role) => role.rules)).toEqual([operatorRules()])
    expect(find(objects, "Role").map((role) => [role.metadata.namespace, role.rules])).toEqual([
      [install.namespace, leaderElectionRules()]
    ])
    expect(find(objects, "CustomResourceDefinition")).toEqual([]) // crds/ is not templated
    const deployments = find(objects, "Deployment")
    expect(deployments).toHaveLength(1)
    const rendered = podSpec(deployments[0])
    const expected = podSpec(managerDeployment(defaultImage))
    const [container, want] = [rendered.containers[0], expected.containers[0]]
    if (container === undefined || want === undefined) throw new Error("no container")
    for (const field of ["name", "image", "ports", "livenessProbe", "readinessProbe", "resources", "securityContext"]) {
      expect(container[field], field).toEqual(want[field])
    }
    expect(rendered.securityContext).toEqual(expected.securityContext)
    expect(rendered.volumes).toEqual(expected.volumes)
    expect(container.args).toEqual(expect.arrayContaining([...want.args]))
    expect(container.env).toEqual(expect.arrayContaining([...want.env]))
    expect(container.env).toContainEqual({ name: "WATCH_NAMESPACES", value: "" })
    expect(find(objects, "Service").map((service) => service.metadata.name)).toEqual(["convex-operator-metrics"])
    expect(find(objects, "ServiceMonitor")).toEqual([])
  })

  it("rbac.scope=namespaced: a Role per watched namespace and nothing cluster-wide; refused without namespaces", () => {
    const objects = render("--set", "rbac.scope=namespaced", "--set", "watchNamespaces={team-a,team-b}")
    expect(find(objects, "ClusterRole")).toEqual([])
    expect(find(objects, "ClusterRoleBinding")).toEqual([])
    expect(
      find(objects, "Role")
        .filter((role) => role.metadata.name === "convex-operator")
        .map((role) => [role.metadata.namespace, role.rules])
    ).toEqual([
      ["team-a", operatorRules()],
      ["team-b", operatorRules()]
    ])
    expect(podSpec(find(objects, "Deployment")[0]).containers[0]?.env).toContainEqual({
      name: "WATCH_NAMESPACES",
      value: "team-a,team-b"
    })
    expect(() => render("--set", "rbac.scope=namespaced")).toThrow(/needs watchNamespaces/)
  })

  it("values: image, leader election off, metrics off, ServiceMonitor on", () => {
    const custom = render("--set", "image.repository=registry.example/op", "--set", "image.tag=v9")
    const container = podSpec(find(custom, "Deployment")[0]).containers[0]
    expect(container?.image).toBe("registry.example/op:v9")
    expect(container?.env).toContainEqual({ name: "OPERATOR_IMAGE", value: "registry.example/op:v9" })
    const single = render("--set", "leaderElection.enabled=false", "--set", "metrics.enabled=false")
    expect(podSpec(find(single, "Deployment")[0]).containers[0]?.args).not.toContain("--leader-elect")
    expect(podSpec(find(single, "Deployment")[0]).containers[0]?.args).toContain("--metrics-bind-address=0")
    expect(find(single, "Role")).toEqual([])
    expect(find(single, "Service")).toEqual([])
    const monitored = render("--set", "metrics.serviceMonitor.enabled=true")
    expect(find(monitored, "ServiceMonitor").map((monitor) => monitor.spec)).toEqual([
      expect.objectContaining({ endpoints: [expect.objectContaining({ port: "metrics", path: "/metrics" })] })
    ])
  })

  it("monitoring.enabled=true lints and renders the PrometheusRule and the Grafana dashboard ConfigMap", () => {
    expect(helm(["lint", "--strict", chart, "--set", "monitoring.enabled=true"])).toContain("0 chart(s) failed")
    const plain = render()
    expect(find(plain, "PrometheusRule")).toEqual([])
    expect(find(plain, "ConfigMap")).toEqual([])
    const objects = render(
      "--set",
      "monitoring.enabled=true",
      "--set",
      "monitoring.prometheusRule.labels.release=kube-prometheus-stack",
      "--set",
      "metrics.serviceMonitor.enabled=true"
    )
    const rules = find(objects, "PrometheusRule")
    expect(rules.map((rule) => [rule.metadata.namespace, rule.metadata.labels?.release])).toEqual([
      [install.namespace, "kube-prometheus-stack"]
    ])
    // The rules pass through helm untouched: Prometheus' own {{ $labels.… }} templates included.
    expect(rules[0]?.spec).toEqual(JSON.parse(JSON.stringify(prometheusRuleSpec())))
    const dashboards = find(objects, "ConfigMap")
    expect(dashboards.map((map) => map.metadata.labels?.grafana_dashboard)).toEqual(["1"])
    const json = (dashboards[0]?.data as Record<string, string> | undefined)?.["convex-operator.json"] ?? ""
    expect(JSON.parse(json)).toEqual(grafanaDashboard())
    // The per-instance series carry the instance's namespace, which Prometheus keeps only with honorLabels.
    expect(find(objects, "ServiceMonitor").map((monitor) => monitor.spec)).toEqual([
      expect.objectContaining({ endpoints: [expect.objectContaining({ honorLabels: true })] })
    ])
    expect(() => render("--set", "monitoring.enabled=true", "--set", "metrics.enabled=false")).toThrow(
      /monitoring.enabled needs metrics.enabled/
    )
  })

  it("every flag of convex-operator run is a value (named in values.yaml) that reaches the Deployment", () => {
    // What each value sets: an argument of the manager container, or the env variable the flag falls back to.
    const chartValues: Record<string, { readonly set: string; readonly arg?: string; readonly env?: string }> = {
      "--namespaces": { set: "watchNamespaces={apps,staging}", env: "WATCH_NAMESPACES=apps,staging" },
      "--metrics-bind-address": { set: "metrics.port=9090", arg: "--metrics-bind-address=:9090" },
      "--health-probe-bind-address": { set: "healthProbePort=9091", arg: "--health-probe-bind-address=:9091" },
      "--leader-elect": { set: "leaderElection.enabled=true", arg: "--leader-elect" },
      "--leader-election-namespace": {
        set: "leaderElection.namespace=locks",
        arg: "--leader-election-namespace=locks"
      },
      "--log-level": { set: "logLevel=debug", arg: "--log-level=debug" },
      "--log-format": { set: "logFormat=text", arg: "--log-format=text" },
      "--max-concurrent-reconciles": { set: "concurrency=7", arg: "--concurrency=7" },
      "--apply-concurrency": { set: "applyConcurrency=9", arg: "--apply-concurrency=9" },
      "--kube-api-qps": { set: "kubeApi.qps=30", arg: "--kube-api-qps=30" },
      "--kube-api-burst": { set: "kubeApi.burst=250", arg: "--kube-api-burst=250" },
      "--operator-image": {
        set: "operatorImage=registry.example/jobs:v2",
        env: "OPERATOR_IMAGE=registry.example/jobs:v2"
      },
      "--watch-idle-timeout": { set: "watchIdleTimeout=120", arg: "--watch-idle-timeout=120" }
    }
    const noValue = ["--kubeconfig"] // in a pod the operator uses its ServiceAccount
    // The flags as the command defines them: a new flag without a value here fails.
    const flags = parameters(resolveCommand(rootCommand.descriptor, ["run"]).node).map(({ names }) => names[0] ?? "")
    expect([...flags].sort()).toEqual([...Object.keys(chartValues), ...noValue].sort())
    const values = fs.readFileSync(path.join(chart, "values.yaml"), "utf8")
    for (const flag of Object.keys(chartValues)) expect(values, `values.yaml names ${flag}`).toContain(`(${flag}`)

    const container = (objects: ReadonlyArray<KubeObject>) => {
      const found = podSpec(find(objects, "Deployment")[0]).containers[0]
      if (found === undefined) throw new Error("no container")
      return {
        args: found.args,
        env: found.env.filter((entry) => typeof entry.value === "string").map((entry) => `${entry.name}=${entry.value}`)
      }
    }
    const set = container(render(...Object.values(chartValues).flatMap((value) => ["--set", value.set])))
    for (const [flag, value] of Object.entries(chartValues)) {
      if (value.arg !== undefined) expect(set.args, flag).toContain(value.arg)
      if (value.env !== undefined) expect(set.env, flag).toContain(value.env)
    }
    // The chart's defaults are the command's.
    expect(container(render()).args).toEqual(
      expect.arrayContaining([
        `--concurrency=${tuningDefaults.maxConcurrentReconciles}`,
        `--apply-concurrency=${tuningDefaults.applyConcurrency}`,
        `--kube-api-qps=${tuningDefaults.kubeApiQps}`,
        `--kube-api-burst=${tuningDefaults.kubeApiBurst}`,
        `--leader-election-namespace=${install.namespace}`
      ])
    )
  })

  it("helm install: the operator pod becomes Ready; helm uninstall, then the namespace and the CRDs, remove everything", async () => {
    let started = Date.now()
    helm([
      "install",
      "convex-operator",
      chart,
      "-n",
      install.namespace,
      "--create-namespace",
      "--wait",
      "--timeout",
      "90s"
    ])
    for (const crd of crds) expect(kubectl.json(["crd", crd.metadata.name]), crd.metadata.name).toBeDefined()
    await eventually(
      "the operator pod to become Ready",
      () =>
        kubectl
          .json<{ items: ReadonlyArray<unknown> }>([
            "pods",
            "-n",
            install.namespace,
            "-l",
            "app.kubernetes.io/name=convex-operator"
          ])
          ?.items.find((pod) => conditionOf(pod, "Ready")?.status === "True"),
      { timeoutMillis: 60_000 }
    )
    timings.push(`install→Ready: ${((Date.now() - started) / 1000).toFixed(1)}s`)
    started = Date.now()
    helm(["uninstall", "convex-operator", "-n", install.namespace, "--wait", "--timeout", "90s"])
    expect(kubectl.json(["deployment", "convex-operator", "-n", install.namespace])).toBeUndefined()
    expect(kubectl.json(["clusterrole", "convex-operator"])).toBeUndefined()
    await uninstallRest()
    timings.push(`uninstall: ${((Date.now() - started) / 1000).toFixed(1)}s`)
  })

  it("helm upgrade after the chart README's CRD step: the served CRDs are the new chart's", async () => {
    // The release before: a chart whose ConvexInstance CRD lacks a field of spec (one no CEL rule or list of
    // required fields names, so the older CRD is valid).
    const older = path.join(work, "older-chart")
    fs.cpSync(chart, older, { recursive: true })
    const instanceCrd = crds.find((crd) => crd.spec.names.kind === "ConvexInstance")
    if (instanceCrd === undefined) throw new Error("no ConvexInstance CRD")
    const crdFile = path.join(older, "crds", `${instanceCrd.metadata.name}.yaml`)
    const document = parseDocument(fs.readFileSync(crdFile, "utf8"))
    const specFields = ["spec", "versions", 0, "schema", "openAPIV3Schema", "properties", "spec", "properties"]
    const spec = (
      document.getIn(specFields.slice(0, -1)) as { toJSON(): { required?: ReadonlyArray<string> } }
    ).toJSON()
    const rules = JSON.stringify(instanceCrd, (key, value) => (key === "description" ? undefined : value)).match(
      /"(?:rule|messageExpression)":"(?:[^"\\]|\\.)*"/g
    )
    const removed = Object.keys((document.getIn(specFields) as { toJSON(): object }).toJSON()).find(
      (field) => !(spec.required ?? []).includes(field) && !(rules ?? []).some((rule) => rule.includes(field))
    )
    if (removed === undefined) throw new Error("no spec field that no CEL rule and no required list names")
    document.deleteIn([...specFields, removed])
    fs.writeFileSync(crdFile, document.toString())
    type Crd = { spec: { versions: ReadonlyArray<{ name: string; schema: unknown }> } }
    const served = (name: string) => kubectl.json<Crd>(["crd", name])?.spec.versions.map((v) => [v.name, v.schema])
    const wanted = (crd: (typeof crds)[number]) =>
      JSON.parse(JSON.stringify(crd.spec.versions.map((v) => [v.name, v.schema]))) as unknown

    helm(["install", "convex-operator", older, "-n", install.namespace, "--create-namespace"])
    expect(JSON.stringify(served(instanceCrd.metadata.name))).not.toContain(`"${removed}"`)
    expect(served(instanceCrd.metadata.name)).not.toEqual(wanted(instanceCrd))
    helm(["upgrade", "convex-operator", chart, "-n", install.namespace])
    expect(served(instanceCrd.metadata.name), "helm upgrade alone leaves the CRD").not.toEqual(wanted(instanceCrd))

    // The step of dist/chart/README.md: the new chart's CRDs, applied server-side, taking the fields over from helm
    // (which created them; without --force-conflicts the apply is refused).
    const newCrds = helm(["show", "crds", chart])
    expect(() => kubectl(["apply", "--server-side", "-f", "-"], newCrds)).toThrow(/conflict/i)
    kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], newCrds)
    helm(["upgrade", "convex-operator", chart, "-n", install.namespace])
    for (const crd of crds) expect(served(crd.metadata.name), crd.metadata.name).toEqual(wanted(crd))

    helm(["uninstall", "convex-operator", "-n", install.namespace, "--wait", "--timeout", "90s"])
    await uninstallRest()
  })
})
