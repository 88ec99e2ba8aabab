/**
 * End to end: databases on the full local cluster (apiserver, controller-manager, scheduler, kwok), the operator as
 * a separate process under the generated RBAC.
 *
 * - A private CA: the database CA Secret's key is mounted read-only in the backend pod and named by PG_CA_FILE;
 *   a new CA rolls the pod (the config-hash annotation changes), and without the Secret the backend is held with
 *   a condition naming spec.backend.db.caSecretRef.
 * - One database per instance: two instances called `app` in two namespaces whose URLs name the same Postgres
 *   server. The later one gets no backend and says which instance keeps the database and which field fixes it,
 *   with one Warning event; deleting the older one lets it start.
 *
 * No pod connects anywhere: kwok makes the pods Ready, so only what the operator writes is checked.
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

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-e2e-databases-"))
const cluster = useLocalCluster({ components: "full", gatewayApi: true, crds: [...crdPaths] }, 180_000)

let kubectl: Kubectl
let operator: OperatorProcess
const version = "0123456789abcdef0123456789abcdef01234567"
const pem = (body: string) => `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`

// biome-ignore lint/suspicious/noExplicitAny: kubectl output, checked by the assertions
type Json = Record<string, any>

const apply = (object: unknown) =>
  kubectl(["apply", "--server-side", "--field-manager=e2e", "-f", "-"], JSON.stringify(object))
const secret = (namespace: string, name: string, data: Record<string, string>) =>
  apply({ apiVersion: "v1", kind: "Secret", metadata: { name, namespace }, stringData: data })
const postgresInstance = (namespace: string, name: string, db: Json = {}) =>
  apply({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name, namespace },
    spec: {
      environment: "dev",
      version,
      dashboard: { enabled: false },
      backend: {
        db: { engine: "postgres", secretRef: "pg", urlKey: "url", ...db },
        // No claim: the tables live in Postgres.
        storage: { mode: "external", pvc: { enabled: false } }
      }
    }
  })
const get = (namespace: string, kind: string, name: string) => kubectl.json<Json>([kind, name, "-n", namespace])
const detail = () => `operator log:\n${operator.logTail(20)}`
const warnings = (namespace: string) =>
  (kubectl.json<Json>(["events", "-n", namespace, "--field-selector", "type=Warning"])?.items ?? []) as Array<Json>

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  for (const namespace of [install.namespace, "e2e-db-ca", "e2e-db-a", "e2e-db-b"]) {
    apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } })
  }
  operator = await startOperator({ kubeconfig: operatorKubeconfig(kubectl, cluster.info(), work), logDir: work })
}, 120_000)

cleanUpAfterFile({ label: "[e2e databases]", work, stop: async () => operator?.stop() })

describe("a database behind a private CA", () => {
  const ns = "e2e-db-ca"
  it("is held while the CA Secret is missing, then mounted, named by PG_CA_FILE, and a new CA rolls the pod", async () => {
    secret(ns, "pg", { url: "postgres://convex:pw@pg-rw.db.svc:5432?sslmode=require" })
    postgresInstance(ns, "tls", { caSecretRef: "pg-ca" })
    const held = await eventually(
      "SecretsReady=False naming spec.backend.db.caSecretRef",
      () => {
        const condition = conditionOf(get(ns, "convexinstance", "tls"), "SecretsReady")
        return condition?.status === "False" && condition.message.includes("spec.backend.db.caSecretRef")
          ? condition
          : undefined
      },
      { timeoutMillis: 60_000, detail }
    )
    expect(held.message).toContain('Secret "pg-ca" does not exist')
    expect(get(ns, "statefulset", "tls-backend")).toBeUndefined()

    secret(ns, "pg-ca", { "ca.crt": pem("first"), "ca.key": "never mounted" })
    const sts = await eventually("the backend StatefulSet", () => get(ns, "statefulset", "tls-backend"), {
      timeoutMillis: 60_000,
      detail
    })
    const pod = sts.spec.template.spec
    expect(pod.volumes).toContainEqual(
      expect.objectContaining({
        name: "db-ca",
        secret: expect.objectContaining({ secretName: "pg-ca", items: [{ key: "ca.crt", path: "ca.crt" }] })
      })
    )
    expect(pod.containers[0].volumeMounts).toContainEqual({
      name: "db-ca",
      mountPath: "/convex/tls/db",
      readOnly: true
    })
    expect(get(ns, "configmap", "tls-backend-config")?.data.PG_CA_FILE).toBe("/convex/tls/db/ca.crt")
    await eventually(
      "Ready",
      () => (conditionOf(get(ns, "convexinstance", "tls"), "Ready")?.status === "True" ? true : undefined),
      { timeoutMillis: 90_000, detail }
    )
    const hash = sts.spec.template.metadata.annotations["convex.icod.de/config-hash"]

    secret(ns, "pg-ca", { "ca.crt": pem("second"), "ca.key": "never mounted" })
    await eventually(
      "a new config hash on the backend pod template",
      () => {
        const next = get(ns, "statefulset", "tls-backend")?.spec.template.metadata.annotations[
          "convex.icod.de/config-hash"
        ]
        return next !== undefined && next !== hash ? next : undefined
      },
      { timeoutMillis: 60_000, detail }
    )
  }, 240_000)
})

describe("two instances on one database server", () => {
  it("hold the later one, naming the older and spec.backend.db.databaseName, until the older is deleted", async () => {
    for (const namespace of ["e2e-db-a", "e2e-db-b"]) {
      secret(namespace, "pg", { url: "postgres://convex:pw@pg.shared.svc:5432" })
    }
    postgresInstance("e2e-db-a", "app")
    await eventually("the older backend StatefulSet", () => get("e2e-db-a", "statefulset", "app-backend"), {
      timeoutMillis: 60_000,
      detail
    })
    postgresInstance("e2e-db-b", "app")
    const ready = await eventually(
      "Ready=False naming e2e-db-a/app",
      () => {
        const condition = conditionOf(get("e2e-db-b", "convexinstance", "app"), "Ready")
        return condition?.status === "False" && condition.message.includes("ConvexInstance e2e-db-a/app")
          ? condition
          : undefined
      },
      { timeoutMillis: 60_000, detail }
    )
    expect(ready.message).toContain("spec.backend.db.databaseName:")
    expect(get("e2e-db-b", "statefulset", "app-backend")).toBeUndefined()
    // One Warning about the database (others, such as the emptyDir's DataNotPersistent, are not counted here).
    const conflictWarnings = () =>
      warnings("e2e-db-b").filter((event) => String(event.message ?? event.note).includes("databaseName"))
    const events = await eventually(
      "a Warning event about the database in e2e-db-b",
      () => {
        const found = conflictWarnings()
        return found.length > 0 ? found : undefined
      },
      { timeoutMillis: 30_000, detail }
    )
    expect(events.map((event) => [event.reason, event.message ?? event.note])).toHaveLength(1)
    expect(events[0]?.reason).toBe("ValidationFailed")
    expect(events[0]?.message ?? events[0]?.note).toContain("e2e-db-a/app")
    expect(conditionOf(get("e2e-db-a", "convexinstance", "app"), "Ready")?.message ?? "").not.toContain("databaseName")

    kubectl(["delete", "convexinstance", "app", "-n", "e2e-db-a", "--wait=false"])
    await eventually("the released backend StatefulSet", () => get("e2e-db-b", "statefulset", "app-backend"), {
      timeoutMillis: 90_000,
      detail
    })
    expect(conflictWarnings()).toHaveLength(1)
  }, 240_000)
})
