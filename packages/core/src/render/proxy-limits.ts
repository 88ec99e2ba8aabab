/**
 * The request-body limit and timeouts of the public proxy (`spec.networking.limits`). NGINX cuts request bodies
 * at 1 MiB and idle upstream reads at 60 s by default; a deploy pushes up to Convex's `MAX_PUSH_BYTES`
 * (200,000,000 bytes, `crates/common/src/knobs.rs` in get-convex/convex-backend), and a WebSocket or a streamed
 * response may stay quiet for longer than a minute.
 *
 * - mode `ingress`: ingress-nginx annotations on every Ingress of the instance (other Ingress controllers ignore
 *   them); the user's `ingressAnnotations` win.
 * - mode `gateway`: NGINX Gateway Fabric's `ClientSettingsPolicy` (body `maxSize`, one per route: its `targetRef`
 *   names one object) and `ProxySettingsPolicy` (`timeout.read` and `timeout.send`, NGF 2.6 and later), each only
 *   where the cluster serves its CRD, attached to the API and site routes (never to a shared Gateway).
 *   Without them the Gateway's own limits apply, which the `ProxySettingsApplied` condition says.
 *
 * @module
 */
import type { ProxyLimitsSpec } from "../api/index.js"
import { childMeta, type RenderContext } from "./context.js"
import type { ClientSettingsPolicy, PolicyTargetRef, ProxySettingsPolicy } from "./objects.js"
import { hostRoutes } from "./routing.js"

/** The NGINX Gateway Fabric policy kinds the operator renders when the cluster serves them. */
export type ProxyPolicyKind = "ClientSettingsPolicy" | "ProxySettingsPolicy"

/** The ingress-nginx annotations of the limits. */
export const ingressLimitAnnotations = (limits: ProxyLimitsSpec): Readonly<Record<string, string>> => ({
  "nginx.ingress.kubernetes.io/proxy-body-size": limits.maxRequestBodySize,
  "nginx.ingress.kubernetes.io/proxy-read-timeout": String(limits.readTimeoutSeconds),
  "nginx.ingress.kubernetes.io/proxy-send-timeout": String(limits.sendTimeoutSeconds)
})

/** The routes the limits attach to: the API route and, when there is one, the site route. */
const targets = (
  context: RenderContext
): ReadonlyArray<{ readonly role: "api" | "site"; readonly ref: PolicyTargetRef }> =>
  hostRoutes(context).flatMap((route) =>
    route.role === "dashboard"
      ? []
      : [
          {
            role: route.role,
            ref: {
              group: "gateway.networking.k8s.io" as const,
              kind: "HTTPRoute" as const,
              name: route.role === "api" ? context.names.apiRoute : context.names.siteRoute
            }
          }
        ]
  )

/** Renders the NGINX Gateway Fabric policies of the limits (mode gateway), for the kinds in `served`. */
export const renderProxyPolicies = (
  context: RenderContext,
  served: ReadonlyArray<ProxyPolicyKind>
): ReadonlyArray<ClientSettingsPolicy | ProxySettingsPolicy> => {
  const networking = context.instance.spec.networking
  if (networking === undefined || networking.mode !== "gateway") return []
  const { limits } = networking
  const routes = targets(context)
  const client: ReadonlyArray<ClientSettingsPolicy> = served.includes("ClientSettingsPolicy")
    ? routes.map(({ role, ref }) => ({
        apiVersion: "gateway.nginx.org/v1alpha1",
        kind: "ClientSettingsPolicy",
        metadata: childMeta(
          context,
          role === "api" ? context.names.apiClientSettings : context.names.siteClientSettings,
          "routing"
        ),
        spec: { targetRef: ref, body: { maxSize: limits.maxRequestBodySize } }
      }))
    : []
  const proxy: ReadonlyArray<ProxySettingsPolicy> = served.includes("ProxySettingsPolicy")
    ? [
        {
          apiVersion: "gateway.nginx.org/v1alpha1",
          kind: "ProxySettingsPolicy",
          metadata: childMeta(context, context.names.proxySettings, "routing"),
          spec: {
            targetRefs: routes.map(({ ref }) => ref),
            timeout: { read: `${limits.readTimeoutSeconds}s`, send: `${limits.sendTimeoutSeconds}s` }
          }
        }
      ]
    : []
  return [...client, ...proxy]
}
