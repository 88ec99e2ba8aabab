/**
 * Which public host goes to which port. Every host is served at `/` (Convex clients build URLs from the origin
 * and the dashboard has no base path), so there is never a path-prefix rule such as `/dashboard` or `/http`.
 *
 * The site host goes to port 3210 with `/http/` put in front of the path (`rewrite`, the default): that is where
 * the backend serves HTTP actions itself (`.nest("/http/", …)` in get-convex/convex-backend
 * `crates/local_backend/src/router.rs`). Port 3211 is Convex's dev site proxy, which does the same forwarding but
 * lets only 4 requests through at a time (`crates/local_backend/src/proxy.rs`); it is used only when the spec
 * says `siteRoute: proxy` or the Gateway rejected the rewrite (`siteRouteFallback`).
 *
 * @module
 */
import { backendApiPort, backendSiteProxyPort, dashboardPort } from "../convex/index.js"
import type { RenderContext } from "./context.js"

/** One public host and the Service port behind it. */
export interface HostRoute {
  /** `api`, `site` or `dashboard`: names the listener and the route. */
  readonly role: "api" | "site" | "dashboard"
  readonly host: string
  readonly service: string
  readonly port: number
  /** The prefix the proxy puts in place of `/` (the site host on port 3210: `/http/`). */
  readonly rewritePrefix?: string
}

/**
 * What replaces the matched `/` on the site host: `/http/`, so `/hook` reaches `/http/hook`, as the dev site proxy
 * forwards it (`format!("{}{}", site_forward_prefix, uri)` with the prefix `http://127.0.0.1:3210/http`). With the
 * trailing slash both readings of Gateway API's ReplacePrefixMatch for a `/` match give `/http/hook`: a plain string
 * replacement, and a path-segment one that drops the replacement's trailing slash and joins with one
 * (kubernetes-sigs/gateway-api issue 3592 records that implementations differ for a `/` match).
 */
export const siteRewritePrefix = "/http/"

/** Whether the site host goes to port 3210 with the `/http/` prefix (otherwise to the dev site proxy 3211). */
export const siteRewritten = (context: RenderContext): boolean =>
  context.instance.spec.networking?.siteRoute === "rewrite" && context.siteRouteFallback === undefined

/** The routed hosts: the API host, the site host when set, the dashboard host when set and the dashboard enabled. */
export const hostRoutes = (context: RenderContext): ReadonlyArray<HostRoute> => {
  const networking = context.instance.spec.networking
  if (networking === undefined) return []
  const routes: Array<HostRoute> = [
    { role: "api", host: networking.host, service: context.names.backend, port: backendApiPort }
  ]
  if (networking.siteHost !== undefined) {
    routes.push(
      siteRewritten(context)
        ? {
            role: "site",
            host: networking.siteHost,
            service: context.names.backend,
            port: backendApiPort,
            rewritePrefix: siteRewritePrefix
          }
        : { role: "site", host: networking.siteHost, service: context.names.backend, port: backendSiteProxyPort }
    )
  }
  if (networking.dashboardHost !== undefined && context.instance.spec.dashboard.enabled) {
    routes.push({
      role: "dashboard",
      host: networking.dashboardHost,
      service: context.names.dashboard,
      port: dashboardPort
    })
  }
  return routes
}

/**
 * Whether a host's requests reach a Convex listener with their path unchanged, where `/metrics` is Convex's
 * metrics (render/metrics.ts): the API host, and a site host routed to the dev site proxy 3211. A site host
 * routed to 3210 has `/http` put in front of every path, so its `/metrics` is an HTTP action.
 */
export const exposesMetrics = (route: HostRoute): boolean =>
  route.role === "api" || (route.role === "site" && route.port === backendSiteProxyPort)

/** Whether the instance creates its own Gateway: gateway mode with networking and no parentRefs. */
export const ownsGateway = (context: RenderContext): boolean => {
  const networking = context.instance.spec.networking
  return networking !== undefined && networking.mode === "gateway" && networking.parentRefs === undefined
}

/** The name of the HTTPS listener of a role on the operator's Gateway. */
export const httpsListenerName = (role: HostRoute["role"]): string => `${role}-https`

/** The name of the plain-HTTP listener on the operator's Gateway. */
export const httpListenerName = "http"
