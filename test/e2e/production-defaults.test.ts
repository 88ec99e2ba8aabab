/**
 * End to end: the backend's optional guards and metrics on the full local cluster (apiserver, controller-manager,
 * scheduler, kwok), with Gateway API and a stand-in of the Prometheus Operator's PodMonitor CRD installed before
 * the operator starts, the operator as a separate process under the generated RBAC:
 *
 * - enabled, the PodDisruptionBudget, NetworkPolicy and PodMonitor are created (owned by the instance), the API
 *   host's HTTPRoute forwards `/metrics` nowhere (the apiserver accepts that rule), and the budget makes the
 *   eviction API refuse the backend pod;
 * - disabled again, all three are deleted and `/metrics` is switched off in the backend's environment.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { install } from "convex-operator"
import { beforeAll, describe, expect, it } from "vitest"
import { useLocalCluster } from "../integration/support.js"
import { crdPaths, repoRoot } from "../support/manifests.js"
import { cleanUpAfterFile } from "./support/clean-up.js"
import { eventually, type Kubectl, makeKubectl } from "./support/kube.js"
import { type OperatorProcess, startOperator } from "./support/operator-process.js"
import { operatorKubeconfig } from "./support/service-account-kubeconfig.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-e2e-guards-"))
const podMonitorCrd = path.join(repoRoot, "test/fixtures/prometheus-operator/podmonitors.yaml")
const cluster = useLocalCluster({ components: "full", gatewayApi: true, crds: [...crdPaths, podMonitorCrd] }, 180_000)

let kubectl: Kubectl
let operator: OperatorProcess
const version = "0123456789abcdef0123456789abcdef01234567"
const ns = "e2e-guards"
const name = "guarded"

// biome-ignore lint/suspicious/noExplicitAny: kubectl output, checked by the assertions
type Json = Record<string, any>

const apply = (object: unknown) =>
  kubectl(["apply", "--server-side", "--field-manager=e2e", "-f", "-"], JSON.stringify(object))
const convexInstance = (backend: Json) =>
  apply({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name, namespace: ns },
    spec: {
      environment: "prod",
      version,
      networking: { host: "api.guarded.example.com" },
      // No claim: nothing here needs the data to persist.
      backend: { storage: { pvc: { enabled: false } }, ...backend }
    }
  })
const get = (kind: string, object: string) => kubectl.json<Json>([kind, object, "-n", ns])
const detail = () => `operator log:\n${operator.logTail(20)}`

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  for (const namespace of [install.namespace, ns]) {
    apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } })
  }
  operator = await startOperator({ kubeconfig: operatorKubeconfig(kubectl, cluster.info(), work), logDir: work })
}, 120_000)

cleanUpAfterFile({ label: "[e2e production defaults]", work, stop: async () => operator?.stop() })

describe("the backend's PodDisruptionBudget, NetworkPolicy and PodMonitor", () => {
  it("are created when enabled, and the budget refuses the eviction of the backend pod", async () => {
    convexInstance({
      metrics: { enabled: true, podMonitorLabels: { release: "prometheus" } },
      podDisruptionBudget: { enabled: true },
      networkPolicy: { enabled: true, allowFromNamespaces: ["monitoring"] }
    })
    const created = await eventually(
      "PodDisruptionBudget, NetworkPolicy and PodMonitor guarded-backend",
      () => {
        const objects = [get("poddisruptionbudget", "guarded-backend"), get("networkpolicy", "guarded-backend")]
        const monitor = get("podmonitor.monitoring.coreos.com", "guarded-backend")
        return objects.every((object) => object !== undefined) && monitor !== undefined
          ? [...objects, monitor]
          : undefined
      },
      { timeoutMillis: 60_000, detail }
    )
    for (const object of created) {
      expect(object.metadata.ownerReferences[0]).toMatchObject({ kind: "ConvexInstance", name, controller: true })
    }
    const [budget, policy, monitor] = created
    expect(budget?.spec.maxUnavailable).toBe(0)
    expect(policy?.spec.policyTypes).toEqual(["Ingress"])
    expect(monitor?.metadata.labels.release).toBe("prometheus")
    expect(monitor?.spec.podMetricsEndpoints).toEqual([{ port: "http", path: "/metrics", scheme: "http" }])

    const route = get("httproute", "guarded-api")
    expect(
      route?.spec.rules.map((rule: Json) => [rule.matches[0].path.value, (rule.backendRefs ?? []).length])
    ).toEqual([
      ["/", 1],
      ["/metrics", 0]
    ])
    const config = get("configmap", "guarded-backend-config")
    expect(config?.data.DISABLE_METRICS_ENDPOINT).toBeUndefined()
    expect(config?.data.DOCUMENT_RETENTION_DELAY).toBe("172800")
    expect(config?.data.REDACT_LOGS_TO_CLIENT).toBe("true")

    // The disruption controller counts the Ready backend pod (kwok makes it Ready) and allows no disruption.
    await eventually(
      "the budget counts the backend pod and allows no disruption",
      () => {
        const status = get("poddisruptionbudget", "guarded-backend")?.status
        return status?.currentHealthy === 1 && status.disruptionsAllowed === 0 ? status : undefined
      },
      { timeoutMillis: 90_000, detail }
    )
    const eviction = {
      apiVersion: "policy/v1",
      kind: "Eviction",
      metadata: { name: "guarded-backend-0", namespace: ns }
    }
    expect(() =>
      kubectl(
        ["create", "--raw", `/api/v1/namespaces/${ns}/pods/guarded-backend-0/eviction`, "-f", "-"],
        JSON.stringify(eviction)
      )
    ).toThrow(/disruption budget/)
    expect(get("pod", "guarded-backend-0")?.metadata.deletionTimestamp).toBeUndefined()
  }, 180_000)

  it("are deleted when disabled again, and /metrics is switched off", async () => {
    convexInstance({})
    await eventually(
      "PodDisruptionBudget, NetworkPolicy and PodMonitor guarded-backend gone",
      () =>
        get("poddisruptionbudget", "guarded-backend") === undefined &&
        get("networkpolicy", "guarded-backend") === undefined &&
        get("podmonitor.monitoring.coreos.com", "guarded-backend") === undefined
          ? true
          : undefined,
      { timeoutMillis: 60_000, detail }
    )
    const config = await eventually(
      "DISABLE_METRICS_ENDPOINT=true in the backend ConfigMap",
      () => {
        const found = get("configmap", "guarded-backend-config")
        return found?.data.DISABLE_METRICS_ENDPOINT === "true" ? found : undefined
      },
      { timeoutMillis: 30_000, detail }
    )
    expect(config.data.DOCUMENT_RETENTION_DELAY).toBe("172800")
  }, 120_000)
})
