/**
 * End to end on a cluster without Gateway API (no gateway.networking.k8s.io CRDs), the operator as a separate
 * process under the generated RBAC:
 *
 * - networking mode ingress: the Ingress maps each host to its port, and the instance reports its public URLs;
 * - mode gateway: GatewayReady=False says Gateway API is not installed, while the backend still becomes Ready;
 * - the CLI against the same cluster: `admin-key get` prints the key of the generated Secret (and says what is
 *   missing otherwise), and what `render` prints is accepted by the apiserver (server-side dry run).
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { decodeAdminKey, secretKeys, verifyAdminKey } from "@convex-operator/core"
import { install } from "convex-operator"
import { Either } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { useLocalCluster } from "../integration/support.js"
import { crdPaths, repoRoot } from "../support/manifests.js"
import { cleanUpAfterFile } from "./support/clean-up.js"
import { conditionOf, eventually, type Kubectl, makeKubectl } from "./support/kube.js"
import { type OperatorProcess, startOperator } from "./support/operator-process.js"
import { operatorKubeconfig, serviceAccountKubeconfig } from "./support/service-account-kubeconfig.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-e2e-nogw-"))
const cluster = useLocalCluster({ components: "full", crds: crdPaths }, 180_000)

let kubectl: Kubectl
let operator: OperatorProcess
const version = "0123456789abcdef0123456789abcdef01234567"
const ns = "e2e-nogw"
/** A namespace the operator does not watch (`run --namespaces`): instances there are never reconciled. */
const unwatched = "e2e-unwatched"

// biome-ignore lint/suspicious/noExplicitAny: kubectl output, checked by the assertions
type Json = Record<string, any>

/**
 * Runs `convex-operator …` (from source) as a separate process. Asynchronously: a synchronous spawn would block
 * the test worker for seconds, long enough for vitest's worker RPC to time out on a busy machine.
 */
const convexOperator = (
  args: ReadonlyArray<string>
): Promise<{ readonly status: number | null; readonly stdout: string; readonly stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--conditions=@convex-operator/source",
        path.join(repoRoot, "packages/operator/src/main.ts"),
        ...args
      ],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] }
    )
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.once("error", reject)
    child.once("close", (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
  })

const apply = (object: unknown) =>
  kubectl(["apply", "--server-side", "--field-manager=e2e", "-f", "-"], JSON.stringify(object))
const convexInstance = (name: string, spec: Json) =>
  apply({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name, namespace: ns },
    spec: { environment: "dev", version, ...spec }
  })
const instance = (name: string) => kubectl.json<Json>(["convexinstance", name, "-n", ns])
const detail = (name: string) => () =>
  `instance: ${JSON.stringify(instance(name)?.status ?? null)}\noperator log:\n${operator.logTail(15)}`

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  for (const name of [install.namespace, ns, unwatched]) {
    apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } })
  }
  operator = await startOperator({
    kubeconfig: operatorKubeconfig(kubectl, cluster.info(), work),
    logDir: work,
    args: [`--namespaces=${ns}`]
  })
}, 120_000)

cleanUpAfterFile({ label: "[e2e without Gateway API]", work, stop: async () => operator?.stop() })

describe("convex-operator on a cluster without Gateway API", () => {
  it("has no Gateway API (the premise of this file)", () => {
    expect(kubectl(["api-resources", "--api-group=gateway.networking.k8s.io", "-o", "name"]).trim()).toBe("")
  })

  it("networking mode ingress: an Ingress maps each host to its port, and the status reports the public URLs", async () => {
    convexInstance("web", {
      networking: {
        mode: "ingress",
        host: "api.web.example.com",
        siteHost: "site.web.example.com",
        dashboardHost: "dashboard.web.example.com",
        ingressClassName: "nginx",
        ingressAnnotations: { "nginx.ingress.kubernetes.io/proxy-body-size": "64m" }
      }
    })
    // Ready follows the backend alone; the dashboard URL appears once the dashboard is ready too.
    const ready = await eventually(
      "web Ready and DashboardReady",
      () => {
        const object = instance("web")
        return conditionOf(object, "Ready")?.status === "True" &&
          conditionOf(object, "DashboardReady")?.status === "True"
          ? object
          : undefined
      },
      { timeoutMillis: 60_000, detail: detail("web") }
    )
    const ingress = kubectl.json<Json>(["ingress", "web-ingress", "-n", ns])!
    expect(ingress.spec.ingressClassName).toBe("nginx")
    expect(ingress.metadata.annotations["nginx.ingress.kubernetes.io/proxy-body-size"]).toBe("64m")
    expect(ingress.metadata.ownerReferences[0]).toMatchObject({ kind: "ConvexInstance", name: "web", controller: true })
    const mapping = Object.fromEntries(
      ingress.spec.rules.map((rule: Json) => {
        // Besides /, only /metrics, sent to the Service without endpoints (render/metrics.ts).
        const forwarded = rule.http.paths.filter((entry: Json) => entry.path !== "/metrics")
        const [only] = forwarded
        expect(forwarded).toHaveLength(1)
        expect(only.path).toBe("/")
        return [rule.host, `${only.backend.service.name}:${only.backend.service.port.number}`]
      })
    )
    expect(mapping).toEqual({
      "api.web.example.com": "web-backend:3210",
      "dashboard.web.example.com": "web-dashboard:6791"
    })
    expect(ingress.metadata.annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]).toBe("3600")
    // The site host has an Ingress of its own, whose ingress-nginx rewrite puts /http/ in front of the path.
    const site = kubectl.json<Json>(["ingress", "web-site-ingress", "-n", ns])!
    expect(site.spec.rules).toEqual([
      {
        host: "site.web.example.com",
        http: {
          paths: [
            {
              path: "/(.*)",
              pathType: "ImplementationSpecific",
              backend: { service: { name: "web-backend", port: { number: 3210 } } }
            }
          ]
        }
      }
    ])
    expect(site.metadata.annotations["nginx.ingress.kubernetes.io/rewrite-target"]).toBe("/http/$1")
    expect(site.metadata.annotations["nginx.ingress.kubernetes.io/proxy-body-size"]).toBe("64m")
    expect(ready.status.endpoints).toEqual({
      apiUrl: "http://api.web.example.com",
      siteUrl: "http://site.web.example.com",
      dashboardUrl: "http://dashboard.web.example.com"
    })
    expect(conditionOf(ready, "GatewayReady")).toMatchObject({ status: "True", reason: "Skipped" })
    expect(conditionOf(ready, "HTTPRouteReady")?.status).toBe("True")
    const sts = kubectl.json<Json>(["statefulset", "web-backend", "-n", ns])!
    expect(sts.status.readyReplicas).toBe(1)
  })

  it("mode gateway: GatewayReady=False says Gateway API is not installed; the backend still becomes Ready", async () => {
    convexInstance("gw", { networking: { host: "gw.example.com" } })
    const reported = await eventually(
      "gw GatewayReady=False and StatefulSetReady=True",
      () => {
        const object = instance("gw")
        return conditionOf(object, "GatewayReady")?.status === "False" &&
          conditionOf(object, "StatefulSetReady")?.status === "True"
          ? object
          : undefined
      },
      { timeoutMillis: 60_000, detail: detail("gw") }
    )
    const gateway = conditionOf(reported, "GatewayReady")!
    expect(gateway.message).toContain("Gateway API is not installed")
    expect(gateway.message).toContain("spec.networking.mode: ingress")
    expect(conditionOf(reported, "Ready")).toMatchObject({ status: "False" })
    expect(conditionOf(reported, "Ready")?.message).toContain("Gateway API is not installed")
    // Everything that does not need Gateway API is there and running.
    expect(kubectl.json<Json>(["statefulset", "gw-backend", "-n", ns])!.status.readyReplicas).toBe(1)
    expect(kubectl.json(["service", "gw-backend", "-n", ns])).toBeDefined()
    expect(kubectl.json(["secret", "gw-convex-secrets", "-n", ns])).toBeDefined()
    // Switching to ingress mode fixes it without anything else.
    kubectl([
      "patch",
      "convexinstance",
      "gw",
      "-n",
      ns,
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { networking: { mode: "ingress" } } })
    ])
    await eventually(
      "gw Ready in ingress mode",
      () => (conditionOf(instance("gw"), "Ready")?.status === "True" ? true : undefined),
      { timeoutMillis: 60_000, detail: detail("gw") }
    )
    expect(kubectl.json<Json>(["ingress", "gw-ingress", "-n", ns])!.spec.rules[0].host).toBe("gw.example.com")
  })

  it("admin-key get prints the key of the generated Secret; a missing instance or Secret is named", async () => {
    const kubeconfig = cluster.info().kubeconfigPath
    await eventually("the Secret web-convex-secrets", () => kubectl.json(["secret", "web-convex-secrets", "-n", ns]))
    const got = await convexOperator(["admin-key", "get", "web", "-n", ns, "--kubeconfig", kubeconfig])
    expect(got.stderr).toBe("")
    expect(got.status).toBe(0)
    const key = got.stdout.trim()
    const generated = kubectl.json<Json>(["secret", "web-convex-secrets", "-n", ns])!
    const value = (name: string) => Buffer.from(generated.data[name], "base64").toString("utf8")
    expect(key).toBe(value(secretKeys.adminKey))
    expect(verifyAdminKey(key, "web", value(secretKeys.instanceSecret))).toBe(true)
    expect(Either.isRight(decodeAdminKey(key, value(secretKeys.instanceSecret)))).toBe(true)

    // Without -n, the namespace of the kubeconfig's current context (as kubectl).
    const scoped = path.join(work, "scoped.kubeconfig")
    fs.copyFileSync(kubeconfig, scoped)
    makeKubectl(cluster.info().kubectl, scoped)(["config", "set-context", "--current", `--namespace=${ns}`])
    const fromContext = await convexOperator(["admin-key", "get", "web", "--kubeconfig", scoped])
    expect(fromContext.stderr).toBe("")
    expect(fromContext.stdout.trim()).toBe(key)

    const absent = await convexOperator(["admin-key", "get", "nope", "-n", ns, "--kubeconfig", kubeconfig])
    expect(absent.status).toBe(2)
    expect(absent.stdout).toBe("")
    expect(absent.stderr.trim()).toBe(
      `convex-operator: ConvexInstance ${ns}/nope not found (kubectl get convexinstances -n ${ns} lists the instances there)`
    )

    // An instance no operator reconciles has no Secret yet.
    apply({
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexInstance",
      metadata: { name: "orphan", namespace: unwatched },
      spec: { environment: "dev", version }
    })
    const noSecret = await convexOperator(["admin-key", "get", "orphan", "-n", unwatched, "--kubeconfig", kubeconfig])
    expect(noSecret.status).toBe(2)
    expect(noSecret.stderr).toContain(
      `convex-operator: Secret ${unwatched}/orphan-convex-secrets not found: the operator creates it when it reconciles ConvexInstance ${unwatched}/orphan; is the operator running?`
    )
    expect(instance("orphan")).toBeUndefined()
    expect(kubectl.json<Json>(["convexinstance", "orphan", "-n", unwatched])?.status).toBeUndefined()

    // A user who may read instances but not Secrets is told which read is forbidden.
    const viewer = path.join(work, "viewer.kubeconfig")
    kubectl(["create", "serviceaccount", "viewer", "-n", ns])
    kubectl(["create", "clusterrole", "e2e-cvx-viewer", "--verb=get", "--resource=convexinstances.convex.icod.de"])
    kubectl([
      "create",
      "rolebinding",
      "viewer",
      "-n",
      ns,
      "--clusterrole=e2e-cvx-viewer",
      `--serviceaccount=${ns}:viewer`
    ])
    serviceAccountKubeconfig({
      kubectl,
      cluster: cluster.info(),
      namespace: ns,
      serviceAccount: "viewer",
      file: viewer
    })
    const forbidden = await convexOperator(["admin-key", "get", "web", "-n", ns, "--kubeconfig", viewer])
    expect(forbidden.status).toBe(2)
    expect(forbidden.stderr).toContain(`reading Secret ${ns}/web-convex-secrets is forbidden`)
    expect(forbidden.stderr).not.toContain(key)
  })

  it("what render prints for every sample is accepted by the apiserver (server-side dry run)", async () => {
    const samples = ["hello-world.yaml", "dev-sqlite.yaml", "prod-postgres-s3.yaml", "obc.yaml"]
    const outputs = await Promise.all(
      samples.map((sample) => convexOperator(["render", "-f", path.join(repoRoot, "examples", sample), "-n", ns]))
    )
    for (const rendered of outputs) {
      expect(rendered.stderr).toBe("")
      expect(rendered.status).toBe(0)
      // Gateway API objects cannot be dry-run here (no CRDs); everything else must pass admission.
      const documents = rendered.stdout
        .split(/^---\n/m)
        .filter((document) => document.trim() !== "" && !document.includes("apiVersion: gateway.networking.k8s.io/"))
      kubectl(
        ["apply", "--dry-run=server", "--server-side", "--field-manager=e2e", "-f", "-"],
        documents.map((d) => `---\n${d}`).join("")
      )
    }
  })
})
