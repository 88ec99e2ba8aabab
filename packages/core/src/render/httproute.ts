/**
 * HTTPRoutes, one per public host, each sending `/` to one Service port: API host → 3210, site host → 3210 with
 * `/http/` put in front of the path by a `URLRewrite` filter (or 3211, render/routing.ts), dashboard host → 6791.
 * Without a site host HTTP actions are served at `<API URL>/http` by the backend itself, so no route is needed.
 * On the operator's own Gateway with TLS, a last route redirects plain HTTP to HTTPS.
 *
 * @module
 */
import { childMeta, type RenderContext } from "./context.js"
import { metricsBlockRule } from "./metrics.js"
import type { HTTPRoute, HTTPRouteRule, RouteParentRef } from "./objects.js"
import {
  exposesMetrics,
  type HostRoute,
  hostRoutes,
  httpListenerName,
  httpsListenerName,
  ownsGateway
} from "./routing.js"
import { siteFallbackAnnotations } from "./site-route.js"

const rootMatch = [{ path: { type: "PathPrefix", value: "/" } }] as const

/** The parents a host's route attaches to. */
export const routeParents = (context: RenderContext, role: HostRoute["role"]): ReadonlyArray<RouteParentRef> => {
  const networking = context.instance.spec.networking
  if (networking === undefined) return []
  if (networking.parentRefs !== undefined) {
    return networking.parentRefs.map((parent) => ({
      group: "gateway.networking.k8s.io",
      kind: "Gateway",
      name: parent.name,
      ...(parent.namespace !== undefined ? { namespace: parent.namespace } : {}),
      ...(parent.sectionName !== undefined ? { sectionName: parent.sectionName } : {})
    }))
  }
  const sectionName = networking.tlsSecretRef !== undefined ? httpsListenerName(role) : httpListenerName
  return [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: context.names.gateway, sectionName }]
}

const routeName = (context: RenderContext, role: HostRoute["role"]): string =>
  role === "api" ? context.names.apiRoute : role === "site" ? context.names.siteRoute : context.names.dashboardRoute

const forward = (route: HostRoute): HTTPRouteRule => ({
  matches: rootMatch,
  ...(route.rewritePrefix !== undefined
    ? {
        filters: [
          {
            type: "URLRewrite",
            urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: route.rewritePrefix } }
          }
        ]
      }
    : {}),
  backendRefs: [{ group: "", kind: "Service", name: route.service, port: route.port, weight: 1 }]
})

/** The rules of a host's route: `/` forwarded, and `/metrics` held back where it would reach Convex's metrics. */
const hostRules = (route: HostRoute): ReadonlyArray<HTTPRouteRule> =>
  exposesMetrics(route) ? [forward(route), metricsBlockRule] : [forward(route)]

/** Renders the HTTPRoutes (gateway mode only). */
export const renderHttpRoutes = (context: RenderContext): ReadonlyArray<HTTPRoute> => {
  const networking = context.instance.spec.networking
  if (networking === undefined || networking.mode !== "gateway") return []
  const routes = hostRoutes(context)
  const rendered: Array<HTTPRoute> = routes.map((route) => ({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: childMeta(context, routeName(context, route.role), "routing", {
      annotations:
        route.role === "site" && context.siteRouteFallback !== undefined
          ? siteFallbackAnnotations(networking, context.siteRouteFallback)
          : undefined
    }),
    spec: { parentRefs: routeParents(context, route.role), hostnames: [route.host], rules: hostRules(route) }
  }))
  if (ownsGateway(context) && networking.tlsSecretRef !== undefined) {
    rendered.push({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: childMeta(context, context.names.redirectRoute, "routing"),
      spec: {
        parentRefs: [
          {
            group: "gateway.networking.k8s.io",
            kind: "Gateway",
            name: context.names.gateway,
            sectionName: httpListenerName
          }
        ],
        hostnames: routes.map((route) => route.host),
        rules: [
          {
            matches: rootMatch,
            filters: [{ type: "RequestRedirect", requestRedirect: { scheme: "https", statusCode: 301 } }]
          }
        ]
      }
    })
  }
  return rendered
}
