import { childNames, decide, type KubeObject } from "@convex-operator/core"
import {
  type HTTPRoute,
  type Ingress,
  siteFallbackAnnotation,
  siteFallbackReasonAnnotation
} from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { entropy, find, minimal, now, otherEntropy, simulateCluster } from "../decide/support.js"

const names = childNames("demo")
const gatewaySpec = { host: "api.x.io", siteHost: "site.x.io" }
const instance = (networking: Record<string, unknown>) => minimal({ networking })
const decideWith = (networking: Record<string, unknown>, objects: ReadonlyArray<KubeObject> = []) =>
  decide(instance(networking), { objects, entropy }, now)
const siteOrigin = (decision: ReturnType<typeof decide>) =>
  (find(decision, "ConfigMap", names.backendConfig).data as Record<string, string>).CONVEX_SITE_ORIGIN
const condition = (decision: ReturnType<typeof decide>, type: string) =>
  decision.status.conditions?.find((c) => c.type === type)

/** The site route as a Gateway controller would report it: each parent with `Accepted` as given. */
const withParentStatus = (
  route: HTTPRoute,
  accepted: { status: "True" | "False"; reason: string; observedGeneration: number },
  generation = 1,
  controllerName = "example.com/gateway"
): KubeObject => ({
  ...(route as unknown as KubeObject),
  metadata: { ...route.metadata, generation, resourceVersion: "1" },
  status: {
    parents: route.spec.parentRefs.map((parentRef) => ({
      parentRef,
      controllerName,
      conditions: [{ type: "Accepted", message: "URLRewrite is not supported", ...accepted }]
    }))
  }
})

describe("site host routing (Gateway API)", () => {
  it("sends the site host to 3210 with /http/ in place of /, leaving the API and CONVEX_SITE_ORIGIN alone", () => {
    const decision = decideWith(gatewaySpec)
    const site = find(decision, "HTTPRoute", names.siteRoute)
    expect(site.spec.rules[0]).toEqual({
      matches: [{ path: { type: "PathPrefix", value: "/" } }],
      filters: [
        { type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/http/" } } }
      ],
      backendRefs: [{ group: "", kind: "Service", name: names.backend, port: 3210, weight: 1 }]
    })
    expect(find(decision, "HTTPRoute", names.apiRoute).spec.rules[0]?.filters).toBeUndefined()
    expect(siteOrigin(decision)).toBe("http://site.x.io")
    expect(siteOrigin(decideWith({ ...gatewaySpec, siteRoute: "proxy" }))).toBe("http://site.x.io")
  })

  it("sends the site host to the dev site proxy 3211 without a filter when siteRoute is proxy", () => {
    const site = find(decideWith({ ...gatewaySpec, siteRoute: "proxy" }), "HTTPRoute", names.siteRoute)
    expect(site.spec.rules[0]?.filters).toBeUndefined()
    expect(site.spec.rules[0]?.backendRefs?.[0]?.port).toBe(3211)
    expect(site.metadata.annotations).toBeUndefined()
  })

  it("falls back to 3211 when the Gateway refuses the rewrite, says so, and stays there", () => {
    const first = decideWith(gatewaySpec)
    const rejected = withParentStatus(find(first, "HTTPRoute", names.siteRoute), {
      status: "False",
      reason: "UnsupportedValue",
      observedGeneration: 1
    })
    const second = decide(
      { ...instance(gatewaySpec), status: first.status },
      { objects: [rejected], entropy: otherEntropy },
      now
    )
    const fallback = find(second, "HTTPRoute", names.siteRoute)
    expect(fallback.spec.rules[0]?.filters).toBeUndefined()
    expect(fallback.spec.rules[0]?.backendRefs?.[0]?.port).toBe(3211)
    expect(fallback.metadata.annotations?.[siteFallbackReasonAnnotation]).toBe(
      "Gateway demo-gateway: Accepted=False (UnsupportedValue): URLRewrite is not supported"
    )
    expect(second.apply.map((object) => `${object.kind}/${object.metadata.name}`)).toContain(
      `HTTPRoute/${names.siteRoute}`
    )
    expect(siteOrigin(second)).toBe(siteOrigin(first))
    const applied = condition(second, "ProxySettingsApplied")
    expect(applied?.status).toBe("False")
    expect(applied?.reason).toBe("SiteProxyFallback")
    expect(applied?.message).toContain("port 3211, at most 4 HTTP actions at a time")
    expect(applied?.message).toContain(`HTTPRoute ${names.siteRoute}`)

    // The fallback route, accepted by the Gateway, is kept as it is: nothing to apply, the same condition.
    const observed = simulateCluster(second.desired)
    const third = decide(
      { ...instance(gatewaySpec), status: second.status },
      { objects: observed, entropy: otherEntropy },
      now
    )
    expect(find(third, "HTTPRoute", names.siteRoute)).toEqual(fallback)
    expect(third.apply.filter((object) => object.kind === "HTTPRoute")).toEqual([])
    expect(condition(third, "ProxySettingsApplied")?.reason).toBe("SiteProxyFallback")
  })

  it("tries the rewrite again on another Gateway class", () => {
    const first = decideWith(gatewaySpec)
    const rejected = withParentStatus(find(first, "HTTPRoute", names.siteRoute), {
      status: "False",
      reason: "UnsupportedValue",
      observedGeneration: 1
    })
    const fallback = find(decideWith(gatewaySpec, [rejected]), "HTTPRoute", names.siteRoute)
    expect(fallback.metadata.annotations?.[siteFallbackAnnotation]).toMatch(/^[0-9a-f]{16}$/)
    const observedFallback = simulateCluster([fallback])
    expect(
      find(decideWith(gatewaySpec, observedFallback), "HTTPRoute", names.siteRoute).spec.rules[0]?.backendRefs?.[0]
        ?.port
    ).toBe(3211)
    const other = find(
      decideWith({ ...gatewaySpec, gatewayClassName: "eg" }, observedFallback),
      "HTTPRoute",
      names.siteRoute
    )
    expect(other.spec.rules[0]?.filters?.[0]?.type).toBe("URLRewrite")
    expect(other.metadata.annotations).toBeUndefined()
  })

  it("falls back behind Envoy Gateway, which accepts the rewrite but applies it as /http without the slash", () => {
    const site = find(decideWith(gatewaySpec), "HTTPRoute", names.siteRoute)
    const accepted = { status: "True", reason: "Accepted", observedGeneration: 1 } as const
    const envoy = withParentStatus(site, accepted, 1, "gateway.envoyproxy.io/gatewayclass-controller")
    const fallback = find(decideWith(gatewaySpec, [envoy]), "HTTPRoute", names.siteRoute)
    expect(fallback.spec.rules[0]?.filters).toBeUndefined()
    expect(fallback.spec.rules[0]?.backendRefs?.[0]?.port).toBe(3211)
    expect(fallback.metadata.annotations?.[siteFallbackReasonAnnotation]).toContain("envoyproxy/gateway issue 6764")
    // Another implementation that accepts the route keeps the rewrite.
    const other = withParentStatus(site, accepted)
    expect(
      find(decideWith(gatewaySpec, [other]), "HTTPRoute", names.siteRoute).spec.rules[0]?.backendRefs?.[0]?.port
    ).toBe(3210)
  })

  it("ignores a rejection of an older generation, and rejections for other reasons", () => {
    const site = find(decideWith(gatewaySpec), "HTTPRoute", names.siteRoute)
    const stale = withParentStatus(site, { status: "False", reason: "UnsupportedValue", observedGeneration: 1 }, 2)
    expect(
      find(decideWith(gatewaySpec, [stale]), "HTTPRoute", names.siteRoute).spec.rules[0]?.backendRefs?.[0]?.port
    ).toBe(3210)
    const other = withParentStatus(site, { status: "False", reason: "NotAllowedByListeners", observedGeneration: 1 })
    expect(
      find(decideWith(gatewaySpec, [other]), "HTTPRoute", names.siteRoute).spec.rules[0]?.backendRefs?.[0]?.port
    ).toBe(3210)
  })
})

describe("site host routing (Ingress)", () => {
  const ingressSpec = { ...gatewaySpec, mode: "ingress", dashboardHost: "dash.x.io", tlsSecretRef: "x-tls" }

  it("gives the site host an Ingress of its own whose ingress-nginx rewrite adds /http/", () => {
    const decision = decideWith({ ...ingressSpec, ingressAnnotations: { "cert-manager.io/issuer": "le" } })
    const main = find(decision, "Ingress", names.ingress)
    expect(main.spec.rules.map((rule) => rule.host)).toEqual(["api.x.io", "dash.x.io"])
    expect(main.spec.tls).toEqual([{ hosts: ["api.x.io", "dash.x.io"], secretName: "x-tls" }])
    expect(main.metadata.annotations?.["nginx.ingress.kubernetes.io/rewrite-target"]).toBeUndefined()
    const site: Ingress = find(decision, "Ingress", names.siteIngress)
    expect(site.metadata.annotations).toEqual({
      "cert-manager.io/issuer": "le",
      "nginx.ingress.kubernetes.io/proxy-body-size": "200m",
      "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
      "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
      "nginx.ingress.kubernetes.io/use-regex": "true",
      "nginx.ingress.kubernetes.io/rewrite-target": "/http/$1"
    })
    expect(site.spec.tls).toEqual([{ hosts: ["site.x.io"], secretName: "x-tls" }])
    expect(site.spec.rules).toEqual([
      {
        host: "site.x.io",
        http: {
          paths: [
            {
              path: "/(.*)",
              pathType: "ImplementationSpecific",
              backend: { service: { name: names.backend, port: { number: 3210 } } }
            }
          ]
        }
      }
    ])
  })

  it("keeps the site host on the shared Ingress, to 3211, when siteRoute is proxy", () => {
    const decision = decideWith({ ...ingressSpec, siteRoute: "proxy" })
    expect(decision.desired.some((object) => object.metadata.name === names.siteIngress)).toBe(false)
    const site = find(decision, "Ingress", names.ingress).spec.rules.find((rule) => rule.host === "site.x.io")
    expect(site?.http.paths[0]?.backend.service.port.number).toBe(3211)
  })
})
