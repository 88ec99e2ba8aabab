/**
 * End to end: the operator as a separate process against the full local cluster (apiserver, controller-manager,
 * scheduler, kwok), driven with kubectl, with a test-only Gateway controller standing in for NGINX Gateway Fabric.
 * The apiserver writes an audit log, so the operator's own writes can be counted by its user agent.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { configHashAnnotation, decodeAdminKey, secretKeys, verifyAdminKey } from "@convex-operator/core"
import { install } from "convex-operator"
import { Either } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { convexRelease } from "../../scripts/convex-release.js"
import { useLocalCluster } from "../integration/support.js"
import { convexInstances, crdPaths } from "../support/manifests.js"
import { cleanUpAfterFile } from "./support/clean-up.js"
import { startGatewayController } from "./support/gateway-controller.js"
import { conditionOf, eventually, type Kubectl, makeKubectl } from "./support/kube.js"
import { type OperatorProcess, startOperator } from "./support/operator-process.js"
import { operatorKubeconfig } from "./support/service-account-kubeconfig.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-e2e-"))
const auditPolicy = path.join(work, "audit-policy.yaml")
const auditLog = path.join(work, "audit.log")
fs.writeFileSync(
  auditPolicy,
  "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n  - level: Metadata\n"
)

const cluster = useLocalCluster(
  {
    components: "full",
    gatewayApi: true,
    crds: crdPaths,
    apiserverArgs: [`--audit-policy-file=${auditPolicy}`, `--audit-log-path=${auditLog}`, "--audit-log-mode=blocking"]
  },
  180_000
)

let kubectl: Kubectl
let operator: OperatorProcess
let stopGateways: () => Promise<void>
const timings: Array<string> = []

const timed = async <A>(name: string, body: () => Promise<A>): Promise<A> => {
  const started = Date.now()
  const result = await body()
  timings.push(`${name}: ${((Date.now() - started) / 1000).toFixed(1)}s`)
  return result
}

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  namespace(install.namespace)
  // The stand-in Gateway controller, not Envoy Gateway: the samples' routes as a real implementation judges them are
  // in gateway-envoy.test.ts; here the sample TLS Secrets hold no real certificates, and no podman is needed.
  stopGateways = startGatewayController(info.objects)
  operator = await startOperator({
    kubeconfig: operatorKubeconfig(kubectl, cluster.info(), work),
    logDir: work,
    args: ["--leader-elect", `--leader-election-namespace=${install.namespace}`]
  })
}, 120_000)

cleanUpAfterFile({
  label: "[e2e]",
  work,
  stop: async () => {
    const code = await operator?.stop()
    await stopGateways?.()
    return code
  },
  summary: () => timings.join(", ")
})

const yaml = (object: unknown) => JSON.stringify(object)
const apply = (object: unknown) => kubectl(["apply", "--server-side", "--field-manager=e2e", "-f", "-"], yaml(object))
const namespace = (name: string) => apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } })
const secret = (ns: string, name: string, data: Record<string, string>, type?: string) =>
  apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: ns },
    stringData: data,
    ...(type ? { type } : {})
  })
const configMap = (ns: string, name: string, data: Record<string, string>) =>
  apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns }, data })
/** A PersistentVolume the claim of an instance binds to, on a folder the test knows. */
const volume = (name: string, size: string) =>
  apply({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name },
    spec: {
      capacity: { storage: size },
      accessModes: ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: "Retain",
      storageClassName: "",
      hostPath: { path: `/tmp/${name}` }
    }
  })

const instance = (ns: string, name: string) => kubectl.json(["convexinstance", name, "-n", ns])
const detail = (ns: string, name: string) => () =>
  `instance: ${JSON.stringify((instance(ns, name) as { status?: unknown } | undefined)?.status ?? null)}\noperator log:\n${operator.logTail(15)}`
// Ready follows the backend alone; DashboardReady (True when disabled too) is awaited so dashboardUrl is settled.
const ready = (ns: string, name: string, timeoutMillis = 60_000) =>
  eventually(
    `ConvexInstance ${ns}/${name} Ready and DashboardReady`,
    () => {
      const object = instance(ns, name)
      return conditionOf(object, "Ready")?.status === "True" && conditionOf(object, "DashboardReady")?.status === "True"
        ? object
        : undefined
    },
    { timeoutMillis, detail: detail(ns, name) }
  )
const gone = (kind: string, ns: string, name: string) =>
  eventually(`${kind} ${ns}/${name} gone`, () =>
    kubectl.json([kind, name, "-n", ns]) === undefined ? true : undefined
  )

// biome-ignore lint/suspicious/noExplicitAny: kubectl output, checked by the assertions
type Json = Record<string, any>

interface AuditEvent {
  readonly verb: string
  readonly userAgent?: string
  readonly objectRef?: { readonly resource?: string; readonly namespace?: string; readonly name?: string }
}

const operatorWrites = (fromOffset: number): ReadonlyArray<string> => {
  const text = fs.readFileSync(auditLog, "utf8").slice(fromOffset)
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as AuditEvent)
    .filter(
      (event) =>
        (event.userAgent ?? "").startsWith("convex-operator/") &&
        ["create", "update", "patch", "delete", "deletecollection"].includes(event.verb) &&
        // Leader election renews its Lease every 2 s by design; everything else must stay quiet.
        event.objectRef?.resource !== "leases"
    )
    .map((event) => `${event.verb} ${event.objectRef?.resource}/${event.objectRef?.namespace}/${event.objectRef?.name}`)
}

describe("convex-operator end to end", () => {
  const samples = "e2e-samples"

  it("1: every sample in examples/ reaches Ready with the wiring CONVEX.md asks for", async () => {
    await timed("1 samples", async () => {
      namespace(samples)
      namespace("gateways")
      // What the samples reference: database URLs, S3 credentials, the OBC's Secret and ConfigMap, TLS Secrets,
      // the shared Gateway of the prod sample, a volume for the dev sample's claim.
      secret(samples, "convex-prod-db", { url: "postgres://convex:pw@pg.db.svc:5432" })
      secret(samples, "convex-prod-s3", { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "not-a-real-secret" })
      secret(samples, "convex-obc-db", { url: "postgres://convex:pw@pg.db.svc:5432" })
      secret(samples, "convex-obc-bucket", { AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "not-real" })
      configMap(samples, "convex-obc-bucket", {
        BUCKET_NAME: "convex-obc-1",
        BUCKET_HOST: "rook-ceph-rgw.rook.svc",
        BUCKET_PORT: "80",
        BUCKET_REGION: "us-east-1"
      })
      // cloudnative-pg and minio-ca: a URL Secret, the CloudNativePG CA Secret, MinIO credentials and its CA.
      const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
      secret(samples, "convex-app-db", { url: "postgres://convex:pw@pg-rw:5432" })
      secret(samples, "pg-ca", { "ca.crt": pem, "ca.key": "not-a-real-key" })
      secret(samples, "convex-minio-db", { url: "postgres://convex:pw@pg.db.svc:5432" })
      secret(samples, "convex-minio-s3", { accessKeyId: "MINIOKEYID", secretAccessKey: "not-a-real-secret" })
      configMap(samples, "minio-ca", { "ca.crt": pem })
      for (const tls of ["convex-dev-tls", "convex-obc-tls"]) {
        secret(samples, tls, { "tls.crt": "cert", "tls.key": "key" })
      }
      apply({
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "Gateway",
        metadata: { name: "shared-gateway", namespace: "gateways" },
        spec: {
          gatewayClassName: "nginx",
          listeners: [{ name: "https", protocol: "HTTP", port: 80, allowedRoutes: { namespaces: { from: "All" } } }]
        }
      })
      volume("e2e-convex-dev", "20Gi")
      const manifests = convexInstances("examples")
      expect(manifests.length).toBeGreaterThanOrEqual(4)
      for (const manifest of manifests) {
        const object = manifest.object as Json
        apply({ ...object, metadata: { ...object.metadata, namespace: samples } })
      }
      for (const manifest of manifests) await ready(samples, (manifest.object as Json).metadata.name)
    })

    // hello-world: the backend StatefulSet as CONVEX.md describes it.
    const sts = kubectl.json<Json>(["statefulset", "hello-backend", "-n", samples])!
    expect(sts.spec.replicas).toBe(1)
    const pod = sts.spec.template.spec
    const backend = pod.containers.find((c: Json) => c.name === "backend")
    // hello-world keeps its data: /convex/data on the default claim, bound through the default StorageClass.
    expect(pod.volumes).toContainEqual({ name: "data", persistentVolumeClaim: { claimName: "hello-backend-pvc" } })
    const helloClaim = kubectl.json<Json>(["pvc", "hello-backend-pvc", "-n", samples])!
    expect(helloClaim.status.phase).toBe("Bound")
    expect(helloClaim.spec.resources.requests.storage).toBe("10Gi")
    expect(helloClaim.metadata.ownerReferences).toBeUndefined()
    expect((instance(samples, "hello") as Json).status.conditions).toContainEqual(
      expect.objectContaining({ type: "DataPersistent", status: "True", reason: "OnClaim" })
    )
    expect(backend.image).toBe(`ghcr.io/get-convex/convex-backend:${convexRelease.commit}`)
    expect(backend.volumeMounts).toContainEqual(expect.objectContaining({ mountPath: "/convex/data" }))
    expect(backend.env).toContainEqual({
      name: "INSTANCE_SECRET",
      valueFrom: { secretKeyRef: { name: "hello-convex-secrets", key: secretKeys.instanceSecret } }
    })
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      expect(backend[probe].httpGet.path).toBe("/version")
    }
    expect(backend.lifecycle.preStop.exec.command.join(" ")).toContain("kill -INT 1")
    expect(sts.metadata.ownerReferences[0]).toMatchObject({ kind: "ConvexInstance", name: "hello", controller: true })
    const config = kubectl.json<Json>(["configmap", "hello-backend-config", "-n", samples])!
    expect(config.data.INSTANCE_NAME).toBe("hello")
    const dashboard = kubectl.json<Json>(["deployment", "hello-dashboard", "-n", samples])!
    expect(dashboard.spec.template.spec.containers[0].image).toBe(
      `ghcr.io/get-convex/convex-dashboard:${convexRelease.commit}`
    )

    // dev-sqlite: data on the claim, API and dashboard on their own hosts through the operator's Gateway.
    const devSts = kubectl.json<Json>(["statefulset", "convex-dev-backend", "-n", samples])!
    expect(devSts.spec.template.spec.volumes).toContainEqual(
      expect.objectContaining({ persistentVolumeClaim: { claimName: "convex-dev-backend-pvc" } })
    )
    const routes = kubectl.json<Json>(["httproutes", "-n", samples, "-l", "app.kubernetes.io/instance=convex-dev"])!
    const hosts = routes.items.flatMap((route: Json) => route.spec.hostnames ?? [])
    expect(hosts).toEqual(expect.arrayContaining(["convex-dev.example.com", "dashboard.convex-dev.example.com"]))
    expect(kubectl.json(["gateway", "convex-dev-gateway", "-n", samples])).toBeDefined()
    const dev = instance(samples, "convex-dev") as Json
    expect(dev.status.endpoints.apiUrl).toBe("https://convex-dev.example.com")
    expect(dev.status.endpoints.dashboardUrl).toBe("https://dashboard.convex-dev.example.com")

    // prod: three hosts on the shared Gateway, Postgres URL by reference.
    const prodRoutes = kubectl.json<Json>([
      "httproutes",
      "-n",
      samples,
      "-l",
      "app.kubernetes.io/instance=convex-prod"
    ])!
    const prodHosts = prodRoutes.items.flatMap((route: Json) => route.spec.hostnames ?? [])
    expect(prodHosts).toEqual(
      expect.arrayContaining(["api.convex.example.com", "site.convex.example.com", "dashboard.convex.example.com"])
    )
    const prodSts = kubectl.json<Json>(["statefulset", "convex-prod-backend", "-n", samples])!
    expect(prodSts.spec.template.spec.containers[0].env).toContainEqual({
      name: "POSTGRES_URL",
      valueFrom: { secretKeyRef: { name: "convex-prod-db", key: "url" } }
    })
  }, 120_000)

  it("2: a missing database Secret is reported, and creating it makes the instance Ready", async () => {
    const ns = "e2e-secrets"
    await timed("2 missing secret", async () => {
      namespace(ns)
      apply({
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexInstance",
        metadata: { name: "pg", namespace: ns },
        spec: {
          environment: "dev",
          version: "0123456789abcdef0123456789abcdef01234567",
          backend: { db: { engine: "postgres", secretRef: "pg-url", urlKey: "url" }, storage: { mode: "external" } }
        }
      })
      const reported = await eventually(
        "SecretsReady=False/ValidationFailed",
        () => {
          const condition = conditionOf(instance(ns, "pg"), "SecretsReady")
          return condition?.status === "False" && condition.reason === "ValidationFailed" ? condition : undefined
        },
        { detail: detail(ns, "pg") }
      )
      expect(reported.message).toContain('Secret "pg-url"')
      const warning = await eventually("a Warning event about the Secret", () => {
        const events = kubectl.json<Json>(["events.events.k8s.io", "-n", ns])!
        return events.items.find(
          (event: Json) =>
            event.type === "Warning" && event.reason === "ValidationFailed" && event.regarding?.name === "pg"
        )
      })
      expect(warning.note).toContain("pg-url")
      expect(kubectl.json(["statefulset", "pg-backend", "-n", ns])).toBeUndefined()
      secret(ns, "pg-url", { url: "postgres://convex:pw@pg.db.svc:5432" })
      await ready(ns, "pg")
    })
  }, 120_000)

  it("8: the admin key in the generated Secret verifies against the instance secret and names the instance", () => {
    const generated = kubectl.json<Json>(["secret", "hello-convex-secrets", "-n", samples])!
    const value = (key: string) => Buffer.from(generated.data[key], "base64").toString("utf8")
    const adminKey = value(secretKeys.adminKey)
    const instanceSecret = value(secretKeys.instanceSecret)
    expect(instanceSecret).toMatch(/^[0-9a-f]{64}$/)
    expect(adminKey.split("|")[0]).toBe("hello")
    expect(verifyAdminKey(adminKey, "hello", instanceSecret)).toBe(true)
    expect(Either.isRight(decodeAdminKey(adminKey, instanceSecret))).toBe(true)
    // No secret value leaked into the instance's status or events.
    const status = JSON.stringify(instance(samples, "hello"))
    const events = JSON.stringify(kubectl.json(["events.events.k8s.io", "-n", samples]))
    for (const text of [status, events, fs.readFileSync(operator.logFile, "utf8")]) {
      expect(text).not.toContain(instanceSecret)
      expect(text).not.toContain(adminKey)
      expect(text).not.toContain("not-a-real-secret")
    }
  })

  it("7: a steady state of Ready instances costs no write requests from the operator over 60 s", async () => {
    await timed("7 steady state", async () => {
      // Settle: every instance Ready and nothing written by the operator for a moment.
      let offset = fs.statSync(auditLog).size
      await eventually(
        "the operator to go quiet",
        async () => {
          await new Promise((resolve) => setTimeout(resolve, 3000))
          const writes = operatorWrites(offset)
          offset = fs.statSync(auditLog).size
          return writes.length === 0 ? true : undefined
        },
        { timeoutMillis: 30_000 }
      )
      const metricsBefore = await (await fetch(operator.metricsUrl)).text()
      await new Promise((resolve) => setTimeout(resolve, 60_000))
      expect(operatorWrites(offset)).toEqual([])
      const metricsAfter = await (await fetch(operator.metricsUrl)).text()
      const writeLines = (text: string) =>
        text
          .split("\n")
          .filter(
            (line) =>
              /convex_operator_api_requests_total\{.*verb="(POST|PUT|PATCH|DELETE)"/.test(line) &&
              !line.includes('resource="leases.coordination.k8s.io"')
          )
      expect(writeLines(metricsAfter)).toEqual(writeLines(metricsBefore))
      // The audit log does see the operator (its watches, its Lease renewals as the ServiceAccount), so the
      // filter above is not vacuous.
      const log = fs.readFileSync(auditLog, "utf8")
      expect(log).toContain('"userAgent":"convex-operator/')
      expect(log).toContain(`system:serviceaccount:${install.namespace}:${install.serviceAccount}`)
    })
  }, 120_000)

  it("4: disabling the dashboard removes its Deployment, Service and route; enabling it brings them back", async () => {
    await timed("4 dashboard toggle", async () => {
      const patch = (enabled: boolean) =>
        kubectl([
          "patch",
          "convexinstance",
          "convex-dev",
          "-n",
          samples,
          "--type=merge",
          "-p",
          JSON.stringify({ spec: { dashboard: { enabled } } })
        ])
      patch(false)
      for (const kind of ["deployment", "service", "httproute"]) await gone(kind, samples, "convex-dev-dashboard")
      const off = await ready(samples, "convex-dev")
      expect((off as Json).status.endpoints.dashboardUrl).toBeUndefined()
      patch(true)
      await eventually("the dashboard back", () =>
        ["deployment", "service", "httproute"].every(
          (kind) => kubectl.json([kind, "convex-dev-dashboard", "-n", samples]) !== undefined
        )
          ? true
          : undefined
      )
      await eventually("the dashboard URL back", () => {
        const object = instance(samples, "convex-dev") as Json
        return conditionOf(object, "Ready")?.status === "True" && object.status.endpoints.dashboardUrl !== undefined
          ? true
          : undefined
      })
    })
  })

  it("6: deleting an instance garbage-collects its children; the claim is kept by default, deleted with Delete", async () => {
    await timed("6 deletion", async () => {
      kubectl(["delete", "convexinstance", "convex-dev", "-n", samples, "--wait=true", "--timeout=60s"])
      for (const [kind, name] of [
        ["statefulset", "convex-dev-backend"],
        ["deployment", "convex-dev-dashboard"],
        ["service", "convex-dev-backend"],
        ["configmap", "convex-dev-backend-config"],
        ["secret", "convex-dev-convex-secrets"],
        ["gateway", "convex-dev-gateway"]
      ] as const) {
        await gone(kind, samples, name)
      }
      expect(kubectl.json(["pvc", "convex-dev-backend-pvc", "-n", samples])).toBeDefined()

      const ns = "e2e-delete"
      namespace(ns)
      volume("e2e-delete-me", "1Gi")
      apply({
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexInstance",
        metadata: { name: "scratch", namespace: ns },
        spec: {
          environment: "dev",
          version: "0123456789abcdef0123456789abcdef01234567",
          backend: { storage: { pvc: { enabled: true, size: "1Gi", deletionPolicy: "Delete" } } }
        }
      })
      await ready(ns, "scratch")
      expect(kubectl.json(["pvc", "scratch-backend-pvc", "-n", ns])).toBeDefined()
      kubectl(["delete", "convexinstance", "scratch", "-n", ns, "--wait=true", "--timeout=60s"])
      await gone("pvc", ns, "scratch-backend-pvc")
      await gone("statefulset", ns, "scratch-backend")
    })
  })

  it("3: changing a referenced Secret rolls the backend; changing nothing rolls nothing", async () => {
    const ns = "e2e-secrets"
    await timed("3 secret roll", async () => {
      const template = () => {
        const sts = kubectl.json<Json>(["statefulset", "pg-backend", "-n", ns])!
        return {
          hash: sts.spec.template.metadata.annotations[configHashAnnotation],
          generation: sts.metadata.generation
        }
      }
      const before = template()
      secret(ns, "pg-url", { url: "postgres://convex:rotated@pg.db.svc:5432" })
      const after = await eventually("a new pod-template hash", () => {
        const now = template()
        return now.hash !== before.hash ? now : undefined
      })
      expect(after.generation).toBeGreaterThan(before.generation)
      await ready(ns, "pg")
      // The same data again, and an unrelated annotation on the Secret: it changes, the configuration does not.
      secret(ns, "pg-url", { url: "postgres://convex:rotated@pg.db.svc:5432" })
      kubectl(["annotate", "secret", "pg-url", "-n", ns, "e2e/touched=yes"])
      await new Promise((resolve) => setTimeout(resolve, 3000))
      expect(template()).toEqual(after)
    })
  })

  it("5: a user's edit of a managed field is reverted; an unrelated annotation is kept", async () => {
    await timed("5 drift", async () => {
      kubectl(["annotate", "statefulset", "hello-backend", "-n", samples, "example.com/owner=team-a"])
      kubectl([
        "patch",
        "statefulset",
        "hello-backend",
        "-n",
        samples,
        "--type=json",
        "-p",
        JSON.stringify([{ op: "replace", path: "/spec/template/spec/containers/0/image", value: "busybox:edited" }])
      ])
      await eventually("the backend image reverted", () => {
        const sts = kubectl.json<Json>(["statefulset", "hello-backend", "-n", samples])!
        return sts.spec.template.spec.containers[0].image.startsWith("ghcr.io/get-convex/convex-backend:")
          ? sts
          : undefined
      })
      const sts = kubectl.json<Json>(["statefulset", "hello-backend", "-n", samples])!
      expect(sts.metadata.annotations["example.com/owner"]).toBe("team-a")
      await ready(samples, "hello")
    })
  })
})
