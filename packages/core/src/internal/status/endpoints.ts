/**
 * Where clients reach the instance: the public URLs once the routes are accepted, the in-cluster Service URLs
 * otherwise; the dashboard URL only when the dashboard is really reachable (enabled, ready, and routed).
 *
 * @module
 */
import type { InstanceEndpoints } from "../../api/index.js"
import type { InstanceUrls } from "../../render/urls.js"

/** What the endpoints depend on. */
export interface EndpointFacts {
  readonly urls: InstanceUrls
  /** Whether public routes exist and are accepted. */
  readonly routed: boolean
  /** Whether the dashboard runs and is ready. */
  readonly dashboardReady: boolean
}

/** The endpoints of the status. */
export const endpointsOf = (facts: EndpointFacts): InstanceEndpoints => {
  const { urls } = facts
  const dashboardUrl =
    facts.routed && facts.dashboardReady && urls.dashboardUrl !== undefined ? { dashboardUrl: urls.dashboardUrl } : {}
  return facts.routed
    ? { apiUrl: urls.cloudOrigin, siteUrl: urls.siteOrigin, ...dashboardUrl }
    : { apiUrl: urls.internalApi, siteUrl: urls.internalSite }
}
