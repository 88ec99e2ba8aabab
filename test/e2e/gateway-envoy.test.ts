/**
 * End to end with a real Gateway API implementation: Envoy Gateway's control plane (support/envoy-gateway.ts; kwok
 * runs the envoy pods it creates) judges the Gateways and HTTPRoutes the operator renders, and the operator reads
 * back what Envoy Gateway writes. The GatewayClass is named `nginx`, the class the examples (and the spec's default)
 * name, with Envoy Gateway as its controller and an EnvoyProxy asking for a ClusterIP Service.
 *
 * - every example with networking: its API, site and dashboard routes Accepted with ResolvedRefs for each parent,
 *   its own Gateway Accepted and Programmed, the instance Ready;
 * - the site route's `URLRewrite` (`ReplacePrefixMatch` `/http/`) as Envoy Gateway judges it;
 * - a parentRef into another namespace obeys the listener's `allowedRoutes`;
 * - a TLS listener whose certificate Secret is missing, then created;
 * - `BackendsAvailable` (which the stand-in never writes) while the backend has no ready endpoints.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { install } from "convex-operator"
import { beforeAll, describe, expect, it } from "vitest"
import { useLocalCluster } from "../integration/support.js"
import { convexInstances, crdPaths } from "../support/manifests.js"
import { cleanUpAfterFile } from "./support/clean-up.js"
import {
  type EnvoyGatewayProcess,
  envoyGatewayControllerName,
  envoyGatewayNamespace,
  startEnvoyGateway
} from "./support/envoy-gateway.js"
import { conditionOf, eventually, type Kubectl, makeKubectl } from "./support/kube.js"
import { type OperatorProcess, startOperator } from "./support/operator-process.js"
import { operatorKubeconfig } from "./support/service-account-kubeconfig.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-e2e-envoy-"))
const cluster = useLocalCluster({ components: "full", gatewayApi: true, crds: crdPaths }, 180_000)

let kubectl: Kubectl
let operator: OperatorProcess
let envoyGateway: EnvoyGatewayProcess
const version = "0123456789abcdef0123456789abcdef01234567"
const samples = "e2e-envoy-samples"

// biome-ignore lint/suspicious/noExplicitAny: kubectl output, checked by the assertions
type Json = Record<string, any>

const apply = (object: unknown) =>
  kubectl(["apply", "--server-side", "--force-conflicts", "--field-manager=e2e", "-f", "-"], JSON.stringify(object))
const namespace = (name: string, labels: Record<string, string> = {}) =>
  apply({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels } })
const secret = (ns: string, name: string, data: Record<string, string>, type = "Opaque") =>
  apply({ apiVersion: "v1", kind: "Secret", metadata: { name, namespace: ns }, type, stringData: data })
const instance = (ns: string, name: string) => kubectl.json<Json>(["convexinstance", name, "-n", ns])
const convexInstance = (ns: string, name: string, networking: Json) =>
  apply({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name, namespace: ns },
    spec: { environment: "dev", version, dashboard: { enabled: false }, networking }
  })

/** A ResourceQuota, once the quota controller has counted it (admission enforces it only then). */
const quota = (ns: string, name: string, hard: Record<string, string>) => {
  apply({ apiVersion: "v1", kind: "ResourceQuota", metadata: { name, namespace: ns }, spec: { hard } })
  return eventually(
    `ResourceQuota ${ns}/${name} counted`,
    () => (kubectl.json<Json>(["resourcequota", name, "-n", ns])?.status?.hard === undefined ? undefined : true),
    { timeoutMillis: 30_000 }
  )
}

/** A self-signed certificate for `hosts` (openssl, as the cluster's PKI uses), as a kubernetes.io/tls Secret. */
const tlsSecret = (ns: string, name: string, hosts: ReadonlyArray<string>) => {
  const dir = fs.mkdtempSync(path.join(work, "tls-"))
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${hosts[0]}`,
      "-addext",
      `subjectAltName=${hosts.map((host) => `DNS:${host}`).join(",")}`,
      "-keyout",
      path.join(dir, "tls.key"),
      "-out",
      path.join(dir, "tls.crt")
    ],
    { stdio: "ignore" }
  )
  secret(
    ns,
    name,
    {
      "tls.crt": fs.readFileSync(path.join(dir, "tls.crt"), "utf8"),
      "tls.key": fs.readFileSync(path.join(dir, "tls.key"), "utf8")
    },
    "kubernetes.io/tls"
  )
}

const detail = (ns: string, name: string) => async () =>
  `instance: ${JSON.stringify(instance(ns, name)?.status?.conditions ?? null)}\nroutes: ${JSON.stringify(
    (kubectl.json<Json>(["httproutes", "-n", ns])?.items ?? []).map((route: Json) => ({
      name: route.metadata.name,
      status: route.status
    }))
  )}\noperator log:\n${operator.logTail(10)}\nenvoy-gateway log:\n${await envoyGateway.logTail(15)}`

/** Polls until `check` holds for the instance; the failure shows its conditions, routes and both logs. */
const instanceWhere = async (ns: string, name: string, what: string, check: (object: Json) => boolean) => {
  let last = ""
  try {
    return await eventually(
      `${name}: ${what}`,
      () => {
        const object = instance(ns, name)
        return object !== undefined && check(object) ? object : undefined
      },
      { timeoutMillis: 90_000, intervalMillis: 500 }
    )
  } catch (error) {
    last = await detail(ns, name)()
    throw new Error(`${String(error)}\n${last}`)
  }
}
const ready = (ns: string, name: string) =>
  instanceWhere(ns, name, "Ready", (object) => conditionOf(object, "Ready")?.status === "True")

/** Envoy Gateway's entry for `parent` (name, namespace) in a route's status, by its controller name. */
const parentStatus = (route: Json, parent: { name: string; namespace: string }) =>
  (route.status?.parents ?? []).find(
    (entry: Json) =>
      entry.controllerName === envoyGatewayControllerName &&
      entry.parentRef.name === parent.name &&
      (entry.parentRef.namespace ?? route.metadata.namespace) === parent.namespace
  )
const conditionIn = (conditions: ReadonlyArray<Json> | undefined, type: string) =>
  (conditions ?? []).find((condition) => condition.type === type)

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  namespace(install.namespace)
  envoyGateway = await startEnvoyGateway({ kubectl, kubeconfig: info.kubeconfigPath, work })
  apply({
    apiVersion: "gateway.envoyproxy.io/v1alpha1",
    kind: "EnvoyProxy",
    metadata: { name: "cluster-ip", namespace: envoyGatewayNamespace },
    spec: { provider: { type: "Kubernetes", kubernetes: { envoyService: { type: "ClusterIP" } } } }
  })
  apply({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "GatewayClass",
    metadata: { name: "nginx" },
    spec: {
      controllerName: envoyGatewayControllerName,
      parametersRef: {
        group: "gateway.envoyproxy.io",
        kind: "EnvoyProxy",
        name: "cluster-ip",
        namespace: envoyGatewayNamespace
      }
    }
  })
  await eventually(
    "GatewayClass nginx Accepted by Envoy Gateway",
    () => {
      const found = kubectl.json<Json>(["gatewayclass", "nginx"])
      return conditionIn(found?.status?.conditions, "Accepted")?.status === "True" ? true : undefined
    },
    { timeoutMillis: 60_000, intervalMillis: 500 }
  )
  operator = await startOperator({
    kubeconfig: operatorKubeconfig(kubectl, cluster.info(), work),
    logDir: work,
    args: []
  })
}, 900_000)

cleanUpAfterFile({
  label: "[e2e envoy gateway]",
  work,
  stop: async () => {
    const code = await operator?.stop()
    await envoyGateway?.stop()
    return code
  }
})

describe("routes judged by Envoy Gateway", () => {
  it("accepts the API, site and dashboard routes of every example with networking", async () => {
    namespace(samples)
    namespace("gateways")
    secret(samples, "convex-prod-db", { url: "postgres://convex:pw@pg.db.svc:5432" })
    secret(samples, "convex-prod-s3", { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "not-a-real-secret" })
    secret(samples, "convex-obc-db", { url: "postgres://convex:pw@pg.db.svc:5432" })
    secret(samples, "convex-obc-bucket", { AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "not-real" })
    apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "convex-obc-bucket", namespace: samples },
      data: {
        BUCKET_NAME: "convex-obc-1",
        BUCKET_HOST: "rook-ceph-rgw.rook.svc",
        BUCKET_PORT: "80",
        BUCKET_REGION: "us-east-1"
      }
    })
    tlsSecret(samples, "convex-dev-tls", ["convex-dev.example.com", "dashboard.convex-dev.example.com"])
    tlsSecret(samples, "convex-obc-tls", ["convex-obc.example.com"])
    tlsSecret("gateways", "shared-tls", ["*.convex.example.com"])
    // The prod example's shared Gateway: TLS on its `https` listener, routes from every namespace.
    apply({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: "shared-gateway", namespace: "gateways" },
      spec: {
        gatewayClassName: "nginx",
        listeners: [
          {
            name: "https",
            protocol: "HTTPS",
            port: 443,
            tls: { mode: "Terminate", certificateRefs: [{ kind: "Secret", name: "shared-tls" }] },
            allowedRoutes: { namespaces: { from: "All" } }
          }
        ]
      }
    })
    const manifests = convexInstances("examples")
      .map((manifest) => manifest.object as Json)
      .filter((object) => object.spec.networking !== undefined)
    expect(manifests.map((object) => object.metadata.name).sort()).toEqual(["convex-dev", "convex-obc", "convex-prod"])
    for (const object of manifests) apply({ ...object, metadata: { ...object.metadata, namespace: samples } })
    for (const object of manifests) await ready(samples, object.metadata.name)

    const routes = kubectl.json<Json>(["httproutes", "-n", samples])!.items as ReadonlyArray<Json>
    const byName = new Map(routes.map((route) => [route.metadata.name as string, route]))
    // Every host of every example has its route; the dev and obc instances also redirect plain HTTP to HTTPS.
    for (const name of [
      "convex-dev-api",
      "convex-dev-dashboard",
      "convex-obc-api",
      "convex-prod-api",
      "convex-prod-site",
      "convex-prod-dashboard"
    ]) {
      expect(byName.has(name), `route ${name} among ${[...byName.keys()].join(", ")}`).toBe(true)
    }
    for (const route of routes) {
      for (const parent of route.spec.parentRefs as ReadonlyArray<Json>) {
        const entry = parentStatus(route, { name: parent.name, namespace: parent.namespace ?? samples })
        expect(entry, `${route.metadata.name} has Envoy Gateway's status for ${parent.name}`).toBeDefined()
        expect(entry.parentRef.sectionName).toBe(parent.sectionName)
        for (const type of ["Accepted", "ResolvedRefs"]) {
          expect(conditionIn(entry.conditions, type), `${route.metadata.name} ${type}`).toMatchObject({
            status: "True",
            reason: type
          })
        }
      }
    }
    // The operator's own Gateways: Accepted and Programmed by Envoy Gateway, every listener's certificate resolved.
    for (const name of ["convex-dev-gateway", "convex-obc-gateway"]) {
      const gateway = kubectl.json<Json>(["gateway", name, "-n", samples])!
      expect(conditionIn(gateway.status.conditions, "Accepted")?.status).toBe("True")
      expect(conditionIn(gateway.status.conditions, "Programmed")?.status).toBe("True")
      for (const listener of gateway.status.listeners) {
        expect(conditionIn(listener.conditions, "ResolvedRefs"), `${name} ${listener.name}`).toMatchObject({
          status: "True"
        })
      }
    }
    for (const object of manifests) {
      const current = instance(samples, object.metadata.name)
      expect(conditionOf(current, "HTTPRouteReady")).toMatchObject({ status: "True" })
      expect(conditionOf(current, "GatewayReady")?.status).toBe("True")
    }
  })

  // Envoy Gateway v1.9.1 accepts the site route's rewrite, but what its data plane would do with it is wrong, and no
  // status shows it: for a `PathPrefix` "/" match its translator (internal/xds/translator/route.go) trims the
  // replacement's trailing slash and emits Envoy's `prefix_rewrite: /http`, which turns `/foo` into `/httpfoo`
  // (envoyproxy/gateway issue 6764, open; seen with v1.9.1's `egctl x translate` on this route). The operator reads
  // Envoy Gateway's controller name in the route's parent status and falls back to Convex's site proxy on 3211, which
  // Envoy Gateway then accepts. No envoy proxy runs here (kwok): this file checks the statuses and the fallback.
  it("accepts the site route's URLRewrite, and the operator falls back to port 3211 since Envoy Gateway applies it wrongly", async () => {
    const route = await eventually(
      "the site route falls back to port 3211",
      () => {
        const current = kubectl.json<Json>(["httproute", "convex-prod-site", "-n", samples])
        return current?.spec.rules[0]?.backendRefs?.[0]?.port === 3211 ? current : undefined
      },
      { timeoutMillis: 60_000, intervalMillis: 500 }
    )
    const [rule] = route.spec.rules
    expect(rule.filters).toBeUndefined()
    expect(rule.backendRefs).toMatchObject([{ name: "convex-prod-backend", port: 3211 }])
    expect(route.metadata.annotations?.["convex.icod.de/site-rewrite-rejection"]).toContain(
      "envoyproxy/gateway issue 6764"
    )
    const accepted = await eventually(
      "Envoy Gateway accepts the fallback route",
      () => {
        const current = kubectl.json<Json>(["httproute", "convex-prod-site", "-n", samples])
        const entry =
          current === undefined ? undefined : parentStatus(current, { name: "shared-gateway", namespace: "gateways" })
        const condition = entry === undefined ? undefined : conditionIn(entry.conditions, "Accepted")
        return condition?.status === "True" && condition.observedGeneration === current?.metadata.generation
          ? condition
          : undefined
      },
      { timeoutMillis: 60_000, intervalMillis: 500 }
    )
    expect(accepted).toMatchObject({ status: "True", reason: "Accepted" })
    const limits = await eventually(
      "ProxySettingsApplied says SiteProxyFallback",
      () => {
        const condition = conditionOf(instance(samples, "convex-prod"), "ProxySettingsApplied")
        return condition?.reason === "SiteProxyFallback" ? condition : undefined
      },
      { timeoutMillis: 60_000, intervalMillis: 500 }
    )
    expect(limits).toMatchObject({ status: "False", reason: "SiteProxyFallback" })
    expect(limits.message).toContain("envoyproxy/gateway issue 6764")
    expect(conditionOf(instance(samples, "convex-prod"), "Ready")?.status).toBe("True")
  })

  it("refuses a parentRef into another namespace until the listener's allowedRoutes admits it", async () => {
    const ns = "e2e-envoy-elsewhere"
    namespace(ns)
    const gateway = (from: Json) => ({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: "same-only", namespace: "gateways" },
      spec: {
        gatewayClassName: "nginx",
        listeners: [{ name: "http", protocol: "HTTP", port: 80, allowedRoutes: { namespaces: from } }]
      }
    })
    apply(gateway({ from: "Same" }))
    convexInstance(ns, "elsewhere", {
      host: "api.elsewhere.example.com",
      parentRefs: [{ name: "same-only", namespace: "gateways", sectionName: "http" }]
    })
    const refused = await instanceWhere(
      ns,
      "elsewhere",
      "HTTPRouteReady False (NotAllowedByListeners) and StatefulSetReady True",
      // Ready names the backend first while it comes up, so the route's reason shows once the backend is ready.
      (object) =>
        conditionOf(object, "HTTPRouteReady")?.status === "False" &&
        (conditionOf(object, "HTTPRouteReady")?.message ?? "").includes("NotAllowedByListeners") &&
        conditionOf(object, "StatefulSetReady")?.status === "True"
    )
    expect(conditionOf(refused, "HTTPRouteReady")?.reason).toBe("NotAccepted")
    expect(conditionOf(refused, "Ready")).toMatchObject({ status: "False", reason: "WaitingForGateway" })
    const route = kubectl.json<Json>(["httproute", "elsewhere-api", "-n", ns])!
    const entry = parentStatus(route, { name: "same-only", namespace: "gateways" })
    expect(conditionIn(entry.conditions, "Accepted")).toMatchObject({
      status: "False",
      reason: "NotAllowedByListeners"
    })
    // Admitting the instance's namespace by label (as a platform team would) lets the route attach.
    apply(gateway({ from: "Selector", selector: { matchLabels: { "kubernetes.io/metadata.name": ns } } }))
    const admitted = await ready(ns, "elsewhere")
    expect(conditionOf(admitted, "HTTPRouteReady")?.status).toBe("True")
    const attached = kubectl.json<Json>(["httproute", "elsewhere-api", "-n", ns])!
    expect(
      conditionIn(parentStatus(attached, { name: "same-only", namespace: "gateways" }).conditions, "Accepted")
    ).toMatchObject({
      status: "True"
    })
  })

  it("reports a TLS listener whose certificate Secret is missing, and becomes Ready once it exists", async () => {
    const ns = "e2e-envoy-tls"
    namespace(ns)
    convexInstance(ns, "nocert", { host: "api.nocert.example.com", tlsSecretRef: "nocert-tls" })
    const waiting = await instanceWhere(
      ns,
      "nocert",
      "GatewayReady False (WaitingForCertificate) and StatefulSetReady True",
      // Ready names the backend first while it comes up, so the gateway's reason shows once the backend is ready.
      (object) =>
        conditionOf(object, "GatewayReady")?.reason === "WaitingForCertificate" &&
        conditionOf(object, "StatefulSetReady")?.status === "True"
    )
    expect(conditionOf(waiting, "GatewayReady")).toMatchObject({ status: "False" })
    expect(conditionOf(waiting, "GatewayReady")?.message).toContain('Secret "nocert-tls"')
    expect(conditionOf(waiting, "Ready")).toMatchObject({ status: "False", reason: "WaitingForGateway" })
    // What Envoy Gateway says of the listener.
    const gateway = kubectl.json<Json>(["gateway", "nocert-gateway", "-n", ns])!
    const listener = gateway.status.listeners.find((entry: Json) => entry.name === "api-https")
    expect(conditionIn(listener.conditions, "ResolvedRefs")).toMatchObject({
      status: "False",
      reason: "InvalidCertificateRef"
    })
    expect(conditionIn(listener.conditions, "Programmed")?.status).toBe("False")
    tlsSecret(ns, "nocert-tls", ["api.nocert.example.com"])
    const object = await ready(ns, "nocert")
    expect(conditionOf(object, "GatewayReady")?.status).toBe("True")
  })

  it("writes BackendsAvailable False while the backend has no endpoint; the route stays accepted", async () => {
    const ns = "e2e-envoy-backends"
    namespace(ns)
    // A quota of no pods: the StatefulSet cannot create the backend pod, so its Service has no endpoint at all.
    // (Envoy Gateway counts a pod that is running but not Ready as a draining endpoint: no BackendsAvailable then.)
    await quota(ns, "no-pods", { pods: "0" })
    convexInstance(ns, "unready", { host: "api.unready.example.com" })
    const route = await eventually(
      "unready-api with BackendsAvailable False",
      () => {
        const found = kubectl.json<Json>(["httproute", "unready-api", "-n", ns])
        const entry = found === undefined ? undefined : parentStatus(found, { name: "unready-gateway", namespace: ns })
        return conditionIn(entry?.conditions, "BackendsAvailable")?.status === "False" ? found : undefined
      },
      { timeoutMillis: 90_000, intervalMillis: 500, detail: () => JSON.stringify(instance(ns, "unready")?.status) }
    )
    const entry = parentStatus(route, { name: "unready-gateway", namespace: ns })
    expect(conditionIn(entry.conditions, "BackendsAvailable")?.reason).toBe("EndpointsNotFound")
    expect(conditionIn(entry.conditions, "Accepted")?.status).toBe("True")
    expect(conditionIn(entry.conditions, "ResolvedRefs")?.status).toBe("True")
    // The operator judges a route by Accepted and ResolvedRefs; the missing endpoint is the backend's own state.
    const waiting = await instanceWhere(
      ns,
      "unready",
      "HTTPRouteReady True, Ready False (WaitingForBackend)",
      (object) =>
        conditionOf(object, "HTTPRouteReady")?.status === "True" &&
        conditionOf(object, "Ready")?.reason === "WaitingForBackend"
    )
    expect(conditionOf(waiting, "StatefulSetReady")?.status).toBe("False")
    kubectl(["delete", "resourcequota", "no-pods", "-n", ns])
    await ready(ns, "unready")
    await eventually(
      "unready-api with BackendsAvailable no longer False",
      () => {
        const found = kubectl.json<Json>(["httproute", "unready-api", "-n", ns])
        const current =
          found === undefined ? undefined : parentStatus(found, { name: "unready-gateway", namespace: ns })
        return current !== undefined && conditionIn(current.conditions, "BackendsAvailable")?.status !== "False"
          ? true
          : undefined
      },
      { timeoutMillis: 60_000, intervalMillis: 500 }
    )
  })

  it("reports a route whose backend Service is missing as ResolvedRefs False, and recovers", async () => {
    const ns = "e2e-envoy-refs"
    namespace(ns)
    // A quota of no Services: the operator cannot create the backend Service the route points at.
    await quota(ns, "no-services", { services: "0" })
    convexInstance(ns, "noservice", { host: "api.noservice.example.com" })
    const refused = await instanceWhere(ns, "noservice", "HTTPRouteReady False with ResolvedRefs=False", (object) =>
      (conditionOf(object, "HTTPRouteReady")?.message ?? "").includes("ResolvedRefs=False")
    )
    expect(conditionOf(refused, "HTTPRouteReady")).toMatchObject({ status: "False", reason: "NotAccepted" })
    expect(conditionOf(refused, "HTTPRouteReady")?.message).toContain("BackendNotFound")
    const route = kubectl.json<Json>(["httproute", "noservice-api", "-n", ns])!
    const entry = parentStatus(route, { name: "noservice-gateway", namespace: ns })
    expect(conditionIn(entry.conditions, "ResolvedRefs")).toMatchObject({ status: "False", reason: "BackendNotFound" })
    kubectl(["delete", "resourcequota", "no-services", "-n", ns])
    const object = await ready(ns, "noservice")
    expect(conditionOf(object, "HTTPRouteReady")?.status).toBe("True")
  })
})
