/**
 * End to end: the pause annotation `convex.icod.de/pause-reconciliation: "true"` against the local cluster, the
 * operator as a separate process under the generated RBAC. A paused Ready instance shows phase Paused in
 * `kubectl get cvx`, then a spec change and a deleted child are not acted on and its status does not change again;
 * removing the annotation resumes (the child returns, the change is rolled out); a paused instance can be deleted.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { install } from "convex-operator"
import { beforeAll, describe, expect, it } from "vitest"
import { useLocalCluster } from "../integration/support.js"
import { crdPaths } from "../support/manifests.js"
import { cleanUpAfterFile } from "./support/clean-up.js"
import { conditionOf, eventually, type Kubectl, makeKubectl } from "./support/kube.js"
import { type OperatorProcess, startOperator } from "./support/operator-process.js"
import { operatorKubeconfig } from "./support/service-account-kubeconfig.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-e2e-pause-"))
const cluster = useLocalCluster({ components: "full", crds: crdPaths }, 180_000)

let kubectl: Kubectl
let operator: OperatorProcess
const ns = "e2e-pause"
const pause = "convex.icod.de/pause-reconciliation"

// biome-ignore lint/suspicious/noExplicitAny: kubectl output, checked by the assertions
type Json = Record<string, any>

const apply = (object: unknown) =>
  kubectl(["apply", "--server-side", "--field-manager=e2e", "-f", "-"], JSON.stringify(object))
const convexInstance = (name: string, phase: string) =>
  apply({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name, namespace: ns },
    spec: {
      environment: "dev",
      version: "0123456789abcdef0123456789abcdef01234567",
      dashboard: { enabled: false },
      // Its claim goes with it, so once reconciled it holds the finalizer (the deletion below runs its cleanup).
      backend: { env: [{ name: "PHASE", value: phase }], storage: { pvc: { deletionPolicy: "Delete" } } }
    }
  })
const instance = (name: string) => kubectl.json<Json>(["convexinstance", name, "-n", ns])
const detail = (name: string) => () =>
  `instance: ${JSON.stringify(instance(name)?.status ?? null)}\noperator log:\n${operator.logTail(15)}`
const backendPhase = (name: string) =>
  kubectl
    .json<Json>(["statefulset", `${name}-backend`, "-n", ns])
    ?.spec.template.spec.containers[0].env.find((env: Json) => env.name === "PHASE")?.value
const eventsOf = (name: string, reason: string) =>
  (
    (kubectl.json<Json>(["events.events.k8s.io", "-n", ns, "--field-selector", `regarding.name=${name}`])?.items ??
      []) as Array<Json>
  ).filter((event) => event.reason === reason)

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  for (const name of [install.namespace, ns]) apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } })
  operator = await startOperator({
    kubeconfig: operatorKubeconfig(kubectl, cluster.info(), work),
    logDir: work,
    args: [`--namespaces=${ns}`]
  })
}, 120_000)

cleanUpAfterFile({ label: "[e2e pause]", work, stop: async () => operator?.stop() })

describe("the pause annotation", () => {
  it("holds a Ready instance (status written once), resumes when removed, and lets a paused instance be deleted", async () => {
    convexInstance("held", "one")
    await eventually(
      "held Ready",
      () => (conditionOf(instance("held"), "Ready")?.status === "True" ? true : undefined),
      {
        timeoutMillis: 90_000,
        detail: detail("held")
      }
    )

    kubectl(["annotate", "convexinstance", "held", "-n", ns, `${pause}=true`])
    const paused = await eventually(
      "held Paused",
      () => {
        const object = instance("held")
        return object?.status?.phase === "Paused" ? object : undefined
      },
      { timeoutMillis: 30_000, detail: detail("held") }
    )
    expect(conditionOf(paused, "ReconciliationPaused")).toMatchObject({ status: "True", reason: "Paused" })
    expect(conditionOf(paused, "ReconciliationPaused")?.message).toContain(`${pause}-`)
    expect(kubectl(["get", "cvx", "held", "-n", ns])).toMatch(/held\s+True\s+Paused/)
    await eventually("the ReconciliationPaused event", () =>
      eventsOf("held", "ReconciliationPaused").length === 1 ? true : undefined
    )

    // While paused: a spec change and a deleted child. The operator is woken by both and acts on neither.
    convexInstance("held", "two")
    kubectl(["delete", "service", "held-backend", "-n", ns])
    // The operator keeps working meanwhile: an instance created after both changes gets its backend; by then the
    // (earlier) wake-ups of the paused one have been handled too, and a little more time is given on top.
    convexInstance("other", "one")
    await eventually("other's StatefulSet", () => kubectl.json(["statefulset", "other-backend", "-n", ns]), {
      timeoutMillis: 30_000,
      detail: detail("other")
    })
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    expect(kubectl.json(["service", "held-backend", "-n", ns])).toBeUndefined()
    expect(backendPhase("held")).toBe("one")
    const still = instance("held")!
    expect(still.status).toEqual(paused.status)
    expect(eventsOf("held", "ReconciliationPaused")).toHaveLength(1)

    kubectl(["annotate", "convexinstance", "held", "-n", ns, `${pause}-`])
    await eventually(
      "held resumed: the Service back and the change rolled out",
      () =>
        kubectl.json(["service", "held-backend", "-n", ns]) !== undefined && backendPhase("held") === "two"
          ? true
          : undefined,
      { timeoutMillis: 30_000, detail: detail("held") }
    )
    const resumed = await eventually(
      "held Ready again",
      () => {
        const object = instance("held")
        return conditionOf(object, "Ready")?.status === "True" && object?.status?.phase === "Ready" ? object : undefined
      },
      { timeoutMillis: 90_000, detail: detail("held") }
    )
    expect(conditionOf(resumed, "ReconciliationPaused")).toBeUndefined()
    await eventually("the ReconciliationResumed event", () =>
      eventsOf("held", "ReconciliationResumed").length === 1 ? true : undefined
    )

    // Deleting a paused instance that holds the finalizer: the cleanup still runs, so the instance goes.
    kubectl(["annotate", "convexinstance", "held", "-n", ns, `${pause}=true`])
    await eventually("held Paused again", () => (instance("held")?.status?.phase === "Paused" ? true : undefined), {
      timeoutMillis: 30_000,
      detail: detail("held")
    })
    expect(instance("held")?.metadata.finalizers).toContain("convex.icod.de/finalizer")
    kubectl(["delete", "convexinstance", "held", "-n", ns, "--wait=false"])
    await eventually("held gone", () => (instance("held") === undefined ? true : undefined), {
      timeoutMillis: 60_000,
      detail: detail("held")
    })
  }, 300_000)
})
