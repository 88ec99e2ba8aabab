/**
 * End to end, the operator as a separate process under the generated RBAC, with Gateway API and the test Gateway
 * controller (which plays an implementation without `URLRewrite` for the class `no-rewrite`):
 *
 * - the site host's HTTPRoute goes to port 3210 with `/http/` put in place of `/` (a `URLRewrite` filter), so HTTP
 *   actions do not queue behind the dev site proxy's limit of 4;
 * - on a Gateway that refuses the filter (`Accepted` False, `UnsupportedValue`) the route falls back to port 3211,
 *   the instance still becomes Ready, and `ProxySettingsApplied` says why;
 * - without NGINX Gateway Fabric's CRDs no policy is attempted and the condition says the Gateway's own limits
 *   apply; once (minimal stand-ins of) its CRDs are installed, the ClientSettingsPolicy and ProxySettingsPolicy of
 *   the limits appear, owned by the instance.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { install } from "convex-operator"
import { beforeAll, describe, expect, it } from "vitest"
import { useLocalCluster } from "../integration/support.js"
import { crdPaths } from "../support/manifests.js"
import { cleanUpAfterFile } from "./support/clean-up.js"
import { startGatewayController } from "./support/gateway-controller.js"
import { conditionOf, eventually, type Kubectl, makeKubectl } from "./support/kube.js"
import { type OperatorProcess, startOperator } from "./support/operator-process.js"
import { operatorKubeconfig } from "./support/service-account-kubeconfig.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-e2e-proxy-"))
const cluster = useLocalCluster({ components: "full", gatewayApi: true, crds: crdPaths }, 180_000)

let kubectl: Kubectl
let operator: OperatorProcess
let stopGateways: () => Promise<void>
const version = "0123456789abcdef0123456789abcdef01234567"
const ns = "e2e-proxy"

// biome-ignore lint/suspicious/noExplicitAny: kubectl output, checked by the assertions
type Json = Record<string, any>

const apply = (object: unknown) =>
  kubectl(["apply", "--server-side", "--field-manager=e2e", "-f", "-"], JSON.stringify(object))
const convexInstance = (name: string, networking: Json) =>
  apply({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name, namespace: ns },
    spec: { environment: "dev", version, dashboard: { enabled: false }, networking }
  })
const instance = (name: string) => kubectl.json<Json>(["convexinstance", name, "-n", ns])
const detail = (name: string) => () =>
  `instance: ${JSON.stringify(instance(name)?.status ?? null)}\noperator log:\n${operator.logTail(15)}`
const ready = (name: string) =>
  eventually(
    `${name} Ready`,
    () => {
      const object = instance(name)
      return conditionOf(object, "Ready")?.status === "True" ? object : undefined
    },
    { timeoutMillis: 60_000, detail: detail(name) }
  )

/** A minimal stand-in for one of NGINX Gateway Fabric's CRDs: the group, version and kind, any spec. */
const nginxPolicyCrd = (kind: string, plural: string) => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${plural}.gateway.nginx.org` },
  spec: {
    group: "gateway.nginx.org",
    scope: "Namespaced",
    names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
    versions: [
      {
        name: "v1alpha1",
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: { spec: { type: "object", "x-kubernetes-preserve-unknown-fields": true } }
          }
        }
      }
    ]
  }
})

beforeAll(async () => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
  for (const name of [install.namespace, ns]) apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } })
  // The stand-in Gateway controller, on purpose: it scripts a refusal of the rewrite (UnsupportedValue) that Envoy
  // Gateway, which accepts it (gateway-envoy.test.ts), would not give.
  stopGateways = startGatewayController(info.objects, 300, { urlRewriteUnsupported: ["no-rewrite"] })
  operator = await startOperator({
    kubeconfig: operatorKubeconfig(kubectl, cluster.info(), work),
    logDir: work,
    args: [`--namespaces=${ns}`]
  })
}, 120_000)

cleanUpAfterFile({
  label: "[e2e proxy settings]",
  work,
  stop: async () => {
    const code = await operator?.stop()
    await stopGateways?.()
    return code
  }
})

describe("the public proxy: site host routing and limits", () => {
  it("has no NGINX Gateway Fabric CRDs yet (the premise of the next test)", () => {
    expect(kubectl(["api-resources", "--api-group=gateway.nginx.org", "-o", "name"]).trim()).toBe("")
  })

  it("routes the site host to 3210 under /http/ and attempts no policy while NGF's CRDs are absent", async () => {
    convexInstance("rw", { host: "api.rw.example.com", siteHost: "site.rw.example.com" })
    const object = await ready("rw")
    const route = kubectl.json<Json>(["httproute", "rw-site", "-n", ns])!
    expect(route.spec.hostnames).toEqual(["site.rw.example.com"])
    const [rule] = route.spec.rules
    expect(rule.filters).toEqual([
      { type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/http/" } } }
    ])
    expect(rule.backendRefs).toMatchObject([{ name: "rw-backend", port: 3210 }])
    expect(route.metadata.annotations?.["convex.icod.de/site-rewrite-rejected-by"]).toBeUndefined()
    // The origin HTTP actions announce stays the site host.
    const config = kubectl.json<Json>(["configmap", "rw-backend-config", "-n", ns])!
    expect(config.data.CONVEX_SITE_ORIGIN).toBe("http://site.rw.example.com")
    const limits = conditionOf(object, "ProxySettingsApplied")
    expect(limits).toMatchObject({ status: "False", reason: "GatewayLimitsApply" })
    expect(limits?.message).toContain("ClientSettingsPolicy CRD is not installed")
    // Nothing tried to write a policy: no apply failure and nothing in the operator's log about them.
    expect(JSON.stringify(object.status.conditions)).not.toContain("clientsettingspolicies")
    expect(operator.logTail(400)).not.toMatch(/clientsettingspolicies|proxysettingspolicies/)
  })

  it("falls back to the dev site proxy 3211 where the Gateway refuses the rewrite, and says so", async () => {
    convexInstance("fb", {
      host: "api.fb.example.com",
      siteHost: "site.fb.example.com",
      gatewayClassName: "no-rewrite"
    })
    const object = await eventually(
      "fb Ready with the site route on 3211",
      () => {
        const current = instance("fb")
        const route = kubectl.json<Json>(["httproute", "fb-site", "-n", ns])
        return conditionOf(current, "Ready")?.status === "True" && route?.spec.rules[0].backendRefs[0].port === 3211
          ? current
          : undefined
      },
      { timeoutMillis: 60_000, detail: detail("fb") }
    )
    const route = kubectl.json<Json>(["httproute", "fb-site", "-n", ns])!
    expect(route.spec.rules[0].filters).toBeUndefined()
    expect(route.metadata.annotations["convex.icod.de/site-rewrite-rejection"]).toContain("UnsupportedValue")
    const fallback = conditionOf(object, "ProxySettingsApplied")
    expect(fallback).toMatchObject({ status: "False", reason: "SiteProxyFallback" })
    expect(fallback?.message).toContain("at most 4 HTTP actions at a time")
    // Exactly one change of the route: created with the rewrite, then the fallback (which the Gateway accepted).
    expect(route.metadata.generation).toBe(2)
  })

  it("creates the ClientSettingsPolicy and ProxySettingsPolicy once NGF's CRDs are installed", async () => {
    apply(nginxPolicyCrd("ClientSettingsPolicy", "clientsettingspolicies"))
    apply(nginxPolicyCrd("ProxySettingsPolicy", "proxysettingspolicies"))
    // The operator looks for them every 30 s while they are absent.
    const object = await eventually(
      "rw ProxySettingsApplied=True",
      () => {
        const current = instance("rw")
        return conditionOf(current, "ProxySettingsApplied")?.status === "True" ? current : undefined
      },
      { timeoutMillis: 90_000, detail: detail("rw") }
    )
    expect(conditionOf(object, "ProxySettingsApplied")?.message).toContain("body up to 200m")
    const client = kubectl.json<Json>(["clientsettingspolicy", "rw-api-client-settings", "-n", ns])!
    expect(client.spec).toEqual({
      targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "rw-api" },
      body: { maxSize: "200m" }
    })
    expect(client.metadata.ownerReferences[0]).toMatchObject({ kind: "ConvexInstance", name: "rw", controller: true })
    const site = kubectl.json<Json>(["clientsettingspolicy", "rw-site-client-settings", "-n", ns])!
    expect(site.spec.targetRef.name).toBe("rw-site")
    const proxy = kubectl.json<Json>(["proxysettingspolicy", "rw-proxy-settings", "-n", ns])!
    expect(proxy.spec).toEqual({
      targetRefs: [
        { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "rw-api" },
        { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "rw-site" }
      ],
      timeout: { read: "3600s", send: "3600s" }
    })
    // A change of the limits reaches the policies.
    apply({
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexInstance",
      metadata: { name: "rw", namespace: ns },
      spec: {
        environment: "dev",
        version,
        dashboard: { enabled: false },
        networking: {
          host: "api.rw.example.com",
          siteHost: "site.rw.example.com",
          limits: { maxRequestBodySize: "1g" }
        }
      }
    })
    await eventually(
      "rw-api-client-settings with 1g",
      () =>
        kubectl.json<Json>(["clientsettingspolicy", "rw-api-client-settings", "-n", ns])?.spec.body.maxSize === "1g"
          ? true
          : undefined,
      { timeoutMillis: 30_000, detail: detail("rw") }
    )
  })
})
