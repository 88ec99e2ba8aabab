/**
 * End to end: an instance whose /convex/data is an explicit emptyDir, on the full local cluster, the operator as a
 * separate process under the generated RBAC. A version change is held (the running image stays, no upgrade
 * starts), `kubectl describe` shows why and which field releases it, and `backend.storage.acceptDataLoss: true`
 * lets the upgrade run to the new version. (The held scheduled restart is tested under the TestClock in
 * packages/core/test/upgrade/data-guard.test.ts; the default claim in operator.test.ts.)
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { install } from "convex-operator"
import { beforeAll, describe, expect, it } from "vitest"
import { useLocalCluster } from "../integration/support.js"
import { crdPaths } from "../support/manifests.js"
import { cleanUpAfterFile } from "./support/clean-up.js"
import { eventually, type Kubectl, makeKubectl } from "./support/kube.js"
import { type OperatorProcess, startOperator } from "./support/operator-process.js"
import { operatorKubeconfig } from "./support/service-account-kubeconfig.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-e2e-data-"))
const cluster = useLocalCluster({ components: "full", crds: crdPaths }, 180_000)

let kubectl: Kubectl
let operator: OperatorProcess
const v1 = "1111111111111111111111111111111111111111"
const v2 = "2222222222222222222222222222222222222222"
const ns = "e2e-data"
const name = "scratch"

// biome-ignore lint/suspicious/noExplicitAny: kubectl output, checked by the assertions
type Json = Record<string, any>

const apply = (object: unknown) =>
  kubectl(["apply", "--server-side", "--field-manager=e2e", "-f", "-"], JSON.stringify(object))
const convexInstance = (version: string, storage: Json) =>
  apply({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name, namespace: ns },
    spec: {
      environment: "dev",
      version,
      dashboard: { enabled: false },
      backend: { storage },
      // The upgrade starts at the roll: what is held is the roll, and the pre-upgrade export is tested elsewhere.
      maintenance: { preUpgradeBackup: { enabled: false } }
    }
  })
const instance = () => kubectl.json<Json>(["convexinstance", name, "-n", ns])
const dataPersistent = () =>
  (instance()?.status?.conditions ?? []).find((condition: Json) => condition.type === "DataPersistent")
const backendImage = () =>
  kubectl.json<Json>(["statefulset", `${name}-backend`, "-n", ns])?.spec.template.spec.containers[0].image
const detail = () => `instance: ${JSON.stringify(instance()?.status ?? null)}\noperator log:\n${operator.logTail(20)}`

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  for (const namespace of [install.namespace, ns]) {
    apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } })
  }
  operator = await startOperator({ kubeconfig: operatorKubeconfig(kubectl, cluster.info(), work), logDir: work })
}, 120_000)

cleanUpAfterFile({ label: "[e2e data guard]", work, stop: async () => operator?.stop() })

describe("an instance on an explicit emptyDir", () => {
  it("holds an upgrade, says why in kubectl describe, and upgrades once the spec accepts the data loss", async () => {
    convexInstance(v1, { pvc: { enabled: false } })
    await eventually(
      "Ready on v1 with DataPersistent=False/EmptyDir",
      () => {
        const ready = (instance()?.status?.conditions ?? []).find((condition: Json) => condition.type === "Ready")
        return ready?.status === "True" && dataPersistent()?.reason === "EmptyDir" ? ready : undefined
      },
      { timeoutMillis: 60_000, detail }
    )
    expect(backendImage()).toBe(`ghcr.io/get-convex/convex-backend:${v1}`)
    expect(kubectl.json(["pvc", `${name}-backend-pvc`, "-n", ns])).toBeUndefined()

    convexInstance(v2, { pvc: { enabled: false } })
    const held = await eventually(
      "DataPersistent=False/ReplacementHeld naming the upgrade",
      () => {
        const condition = dataPersistent()
        return condition?.reason === "ReplacementHeld" && condition.message.includes(`the upgrade to version ${v2}`)
          ? condition
          : undefined
      },
      { timeoutMillis: 60_000, detail }
    )
    expect(held.status).toBe("False")
    expect(held.message).toContain("spec.backend.storage.acceptDataLoss: true")
    expect(instance()?.status?.upgrade).toBeUndefined()
    expect(backendImage()).toBe(`ghcr.io/get-convex/convex-backend:${v1}`)
    const described = await eventually(
      "kubectl describe shows the ReplacementHeld event",
      () => {
        const text = kubectl(["describe", "convexinstance", name, "-n", ns])
        return /Warning\s+ReplacementHeld/.test(text) ? text : undefined
      },
      { timeoutMillis: 30_000, detail }
    )
    expect(described).toContain("spec.backend.storage.acceptDataLoss")
    expect(described).toContain(`the upgrade to ${v2} is held (see DataPersistent)`)

    convexInstance(v2, { pvc: { enabled: false }, acceptDataLoss: true })
    await eventually(
      "the backend on v2, the upgrade done",
      () =>
        backendImage() === `ghcr.io/get-convex/convex-backend:${v2}` && instance()?.status?.currentVersion === v2
          ? true
          : undefined,
      { timeoutMillis: 120_000, detail }
    )
    expect(dataPersistent()).toMatchObject({ status: "False", reason: "DataLossAccepted" })
  }, 300_000)
})
