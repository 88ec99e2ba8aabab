import { decide } from "@convex-operator/core"
import type { HTTPRoute } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { entropy, find, minimal, now } from "../decide/support.js"

const render = (networking: Record<string, unknown>, spec: Record<string, unknown> = {}) =>
  decide(minimal({ networking, ...spec }), { objects: [], entropy }, now)
const routes = (decision: ReturnType<typeof render>) =>
  decision.desired.filter((object): object is HTTPRoute => object.kind === "HTTPRoute")
const backends = (decision: ReturnType<typeof render>) =>
  routes(decision).flatMap((route) =>
    route.spec.rules.flatMap((rule) =>
      (rule.backendRefs ?? []).map((ref) => `${route.spec.hostnames.join(",")}/ -> ${ref.name}:${ref.port}`)
    )
  )

describe("Gateway API", () => {
  const three = { host: "api.x.io", siteHost: "site.x.io", dashboardHost: "dash.x.io", tlsSecretRef: "x-tls" }

  it("routes each host at / to its port, never a path prefix", () => {
    expect(backends(render(three))).toEqual([
      "api.x.io/ -> demo-backend:3210",
      "site.x.io/ -> demo-backend:3210",
      "dash.x.io/ -> demo-dashboard:6791"
    ])
    for (const route of routes(render(three))) {
      // A rule that forwards nothing is the /metrics block (render/metrics.ts); every forwarding rule is at /.
      for (const rule of route.spec.rules.filter((r) => r.backendRefs !== undefined || r.filters !== undefined)) {
        expect(rule.matches).toEqual([{ path: { type: "PathPrefix", value: "/" } }])
      }
    }
  })

  it("has no site route without a site host (HTTP actions are at <api>/http)", () => {
    expect(backends(render({ host: "api.x.io" }))).toEqual(["api.x.io/ -> demo-backend:3210"])
  })

  it("creates a Gateway with one HTTPS listener per host and an HTTP listener that redirects", () => {
    const decision = render(three, { networking: { ...three, gatewayAnnotations: { "cert-manager.io/issuer": "le" } } })
    const gateway = find(decision, "Gateway", "demo-gateway")
    expect(gateway.spec.gatewayClassName).toBe("nginx")
    expect(gateway.metadata.annotations).toEqual({ "cert-manager.io/issuer": "le" })
    expect(gateway.spec.listeners.map((l) => [l.name, l.protocol, l.port, l.hostname ?? "*"])).toEqual([
      ["api-https", "HTTPS", 443, "api.x.io"],
      ["site-https", "HTTPS", 443, "site.x.io"],
      ["dashboard-https", "HTTPS", 443, "dash.x.io"],
      ["http", "HTTP", 80, "*"]
    ])
    for (const listener of gateway.spec.listeners.slice(0, 3)) {
      expect(listener.tls?.certificateRefs).toEqual([{ kind: "Secret", group: "", name: "x-tls" }])
    }
    const redirect = find(decision, "HTTPRoute", "demo-https-redirect")
    expect(redirect.spec.parentRefs).toEqual([
      { group: "gateway.networking.k8s.io", kind: "Gateway", name: "demo-gateway", sectionName: "http" }
    ])
    expect(redirect.spec.rules[0]?.filters).toEqual([
      { type: "RequestRedirect", requestRedirect: { scheme: "https", statusCode: 301 } }
    ])
    expect(find(decision, "HTTPRoute", "demo-api").spec.parentRefs[0]?.sectionName).toBe("api-https")
  })

  it("without TLS, routes attach to the HTTP listener and nothing redirects", () => {
    const decision = render({ host: "api.x.io", gatewayClassName: "eg" })
    expect(find(decision, "Gateway", "demo-gateway").spec).toEqual({
      gatewayClassName: "eg",
      listeners: [{ name: "http", protocol: "HTTP", port: 80, allowedRoutes: { namespaces: { from: "Same" } } }]
    })
    expect(routes(decision).map((route) => route.metadata.name)).toEqual(["demo-api"])
    expect(find(decision, "HTTPRoute", "demo-api").spec.parentRefs[0]?.sectionName).toBe("http")
  })

  it("attaches to existing Gateways by parentRefs and creates none", () => {
    const decision = render({
      host: "api.x.io",
      parentRefs: [{ name: "shared", namespace: "gw", sectionName: "https" }, { name: "other" }]
    })
    expect(decision.desired.some((object) => object.kind === "Gateway")).toBe(false)
    expect(find(decision, "HTTPRoute", "demo-api").spec.parentRefs).toEqual([
      { group: "gateway.networking.k8s.io", kind: "Gateway", name: "shared", namespace: "gw", sectionName: "https" },
      { group: "gateway.networking.k8s.io", kind: "Gateway", name: "other" }
    ])
  })

  it("renders no routing at all without networking", () => {
    const decision = decide(minimal(), { objects: [], entropy }, now)
    expect(decision.desired.filter((object) => ["Gateway", "HTTPRoute", "Ingress"].includes(object.kind))).toEqual([])
  })
})

describe("Ingress", () => {
  it("maps the same hosts to the same ports at /, with TLS and class (site host on the dev site proxy)", () => {
    const decision = render({
      mode: "ingress",
      siteRoute: "proxy",
      host: "api.x.io",
      siteHost: "site.x.io",
      dashboardHost: "dash.x.io",
      tlsSecretRef: "x-tls",
      ingressClassName: "nginx",
      ingressAnnotations: { "nginx.ingress.kubernetes.io/proxy-body-size": "250m" }
    })
    expect(decision.desired.some((object) => object.kind === "Gateway" || object.kind === "HTTPRoute")).toBe(false)
    const ingress = find(decision, "Ingress", "demo-ingress")
    // The user's annotation wins over the one rendered from limits.
    expect(ingress.metadata.annotations).toEqual({
      "nginx.ingress.kubernetes.io/proxy-body-size": "250m",
      "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
      "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600"
    })
    expect(ingress.spec.ingressClassName).toBe("nginx")
    expect(ingress.spec.tls).toEqual([{ hosts: ["api.x.io", "site.x.io", "dash.x.io"], secretName: "x-tls" }])
    expect(
      ingress.spec.rules.map((rule) => {
        const path = rule.http.paths[0]
        return `${rule.host}${path?.path} -> ${path?.backend.service.name}:${path?.backend.service.port.number}`
      })
    ).toEqual([
      "api.x.io/ -> demo-backend:3210",
      "site.x.io/ -> demo-backend:3211",
      "dash.x.io/ -> demo-dashboard:6791"
    ])
  })
})
