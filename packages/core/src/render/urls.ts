/**
 * The URLs of an instance: the origins the backend announces (`CONVEX_CLOUD_ORIGIN`, `CONVEX_SITE_ORIGIN`), the
 * in-cluster Service URLs, and what a browser uses for the dashboard. Hosts are served at `/`: Convex clients
 * build URLs with `new URL("/api/…", origin)`, and the dashboard has no base path.
 *
 * @module
 */
import type { ConvexInstance } from "../api/index.js"
import { backendApiPort, backendSiteProxyPort } from "../convex/index.js"
import { childNames } from "./names.js"

/** Every URL of one instance. */
export interface InstanceUrls {
  /** `http://<name>-backend.<namespace>.svc:3210`: the API inside the cluster. */
  readonly internalApi: string
  /** `http://<name>-backend.<namespace>.svc:3211`: HTTP actions inside the cluster. */
  readonly internalSite: string
  /** `CONVEX_CLOUD_ORIGIN`: the public API URL, or the internal one without networking. */
  readonly cloudOrigin: string
  /** `CONVEX_SITE_ORIGIN`: the site host, or `<cloud origin>/http` on a single host. */
  readonly siteOrigin: string
  /** `NEXT_PUBLIC_DEPLOYMENT_URL`: the API as a browser sees it (a port-forward without networking). */
  readonly deploymentUrl: string
  /** The dashboard's public URL, when it has a host of its own. */
  readonly dashboardUrl: string | undefined
  /** Whether public hosts are served over TLS (a TLS Secret, or an https cloud origin). */
  readonly tls: boolean
}

/** The URL a browser uses without any networking: `kubectl port-forward svc/<name>-backend 3210`. */
export const portForwardApiUrl = `http://127.0.0.1:${backendApiPort}`

/** The URLs of `instance`, whose namespace is `namespace`. */
export const instanceUrls = (instance: ConvexInstance, namespace: string): InstanceUrls => {
  const service = `${childNames(instance.metadata.name ?? "").backend}.${namespace}.svc`
  const internalApi = `http://${service}:${backendApiPort}`
  const internalSite = `http://${service}:${backendSiteProxyPort}`
  const networking = instance.spec.networking
  if (networking === undefined) {
    return {
      internalApi,
      internalSite,
      cloudOrigin: internalApi,
      siteOrigin: internalSite,
      deploymentUrl: portForwardApiUrl,
      dashboardUrl: undefined,
      tls: false
    }
  }
  // Public hosts are https when the operator terminates TLS (tlsSecretRef), or when the user's cloud origin says
  // so (TLS ended elsewhere, e.g. a shared Gateway): the other hosts are served the same way.
  const tls = networking.tlsSecretRef !== undefined || networking.cloudOrigin?.startsWith("https://") === true
  const scheme = tls ? "https" : "http"
  const cloudOrigin = networking.cloudOrigin ?? `${scheme}://${networking.host}`
  const siteOrigin =
    networking.siteOrigin ??
    (networking.siteHost !== undefined
      ? `${scheme}://${networking.siteHost}`
      : `${cloudOrigin.replace(/\/+$/, "")}/http`)
  return {
    internalApi,
    internalSite,
    cloudOrigin,
    siteOrigin,
    deploymentUrl: networking.deploymentUrl ?? cloudOrigin,
    dashboardUrl: networking.dashboardHost !== undefined ? `${scheme}://${networking.dashboardHost}` : undefined,
    tls
  }
}
