import { childNames, decide, type KubeObject, type ProxyPolicyKind } from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { entropy, find, minimal, now, otherEntropy, simulateCluster } from "../decide/support.js"

const names = childNames("demo")
const hosts = { host: "api.x.io", siteHost: "site.x.io", dashboardHost: "dash.x.io" }
const both: ReadonlyArray<ProxyPolicyKind> = ["ClientSettingsPolicy", "ProxySettingsPolicy"]
const render = (
  networking: Record<string, unknown>,
  proxyPolicies?: ReadonlyArray<ProxyPolicyKind>,
  objects: ReadonlyArray<KubeObject> = []
) =>
  decide(minimal({ networking }), { objects, entropy }, now, {
    operator: { image: "op:1" },
    ...(proxyPolicies !== undefined ? { proxyPolicies } : {})
  })
const condition = (decision: ReturnType<typeof decide>) =>
  decision.status.conditions?.find((c) => c.type === "ProxySettingsApplied")
const kinds = (decision: ReturnType<typeof decide>) =>
  decision.desired
    .filter((object) => object.kind === "ClientSettingsPolicy" || object.kind === "ProxySettingsPolicy")
    .map((object) => `${object.kind}/${object.metadata.name}`)

describe("proxy limits on NGINX Gateway Fabric", () => {
  it("attaches a ClientSettingsPolicy to the API and site routes and one ProxySettingsPolicy to both", () => {
    const decision = render(hosts, both)
    expect(kinds(decision)).toEqual([
      `ClientSettingsPolicy/${names.apiClientSettings}`,
      `ClientSettingsPolicy/${names.siteClientSettings}`,
      `ProxySettingsPolicy/${names.proxySettings}`
    ])
    const route = (name: string) => ({ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name })
    expect(find(decision, "ClientSettingsPolicy", names.apiClientSettings).spec).toEqual({
      targetRef: route(names.apiRoute),
      body: { maxSize: "200m" }
    })
    expect(find(decision, "ClientSettingsPolicy", names.siteClientSettings).spec.targetRef).toEqual(
      route(names.siteRoute)
    )
    expect(find(decision, "ProxySettingsPolicy", names.proxySettings).spec).toEqual({
      targetRefs: [route(names.apiRoute), route(names.siteRoute)],
      timeout: { read: "3600s", send: "3600s" }
    })
  })

  it("writes the spec's limits, and owns the policies like every child", () => {
    const decision = render(
      { host: "api.x.io", limits: { maxRequestBodySize: "1g", readTimeoutSeconds: 90, sendTimeoutSeconds: 30 } },
      both
    )
    expect(kinds(decision)).toEqual([
      `ClientSettingsPolicy/${names.apiClientSettings}`,
      `ProxySettingsPolicy/${names.proxySettings}`
    ])
    const client = find(decision, "ClientSettingsPolicy", names.apiClientSettings)
    expect(client.spec.body.maxSize).toBe("1g")
    expect(client.metadata.ownerReferences?.[0]?.kind).toBe("ConvexInstance")
    expect(find(decision, "ProxySettingsPolicy", names.proxySettings).spec.timeout).toEqual({
      read: "90s",
      send: "30s"
    })
  })

  it("reports the policies once they are in place, and then changes nothing", () => {
    const first = render(hosts, both)
    expect(condition(first)).toMatchObject({ status: "False", reason: "Provisioning" })
    const observed = simulateCluster(first.desired)
    const second = decide(
      { ...minimal({ networking: hosts }), status: first.status },
      { objects: observed, entropy: otherEntropy },
      now,
      { operator: { image: "op:1" }, proxyPolicies: both }
    )
    expect(second.apply).toEqual([])
    expect(condition(second)).toMatchObject({
      status: "True",
      reason: "Available",
      message:
        "ClientSettingsPolicy and ProxySettingsPolicy in place: body up to 200m, read timeout 3600 s, send timeout 3600 s; the site host goes to port 3210 under /http"
    })
  })

  it("renders no policy where the CRDs are absent and says the Gateway's own limits apply", () => {
    const decision = render(hosts)
    expect(kinds(decision)).toEqual([])
    const state = condition(decision)
    expect(state?.status).toBe("False")
    expect(state?.reason).toBe("GatewayLimitsApply")
    expect(state?.message).toContain("spec.networking.limits.maxRequestBodySize (200m)")
    expect(state?.message).toContain("ClientSettingsPolicy CRD is not installed")
    expect(state?.message).toContain("ProxySettingsPolicy CRD")
    // Only the timeouts are missing when NGF predates ProxySettingsPolicy.
    const older = condition(render(hosts, ["ClientSettingsPolicy"]))
    expect(older?.message).not.toContain("ClientSettingsPolicy")
    expect(older?.message).toContain("ProxySettingsPolicy CRD")
  })

  it("renders no policy in mode ingress, where the limits are annotations", () => {
    const decision = render({ ...hosts, mode: "ingress", siteRoute: "proxy" }, both)
    expect(kinds(decision)).toEqual([])
    expect(find(decision, "Ingress", names.ingress).metadata.annotations).toEqual({
      "nginx.ingress.kubernetes.io/proxy-body-size": "200m",
      "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
      "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600"
    })
    expect(condition(decision)?.reason).not.toBe("GatewayLimitsApply")
  })
})
