/**
 * The `ProxySettingsApplied` condition: whether the public proxy does what `spec.networking` asks of it beyond
 * routing: the site host on port 3210 under `/http` (`siteRoute: rewrite`), and the request-body limit and timeouts
 * of `limits`. It is informational: Ready does not wait for it. False says which part the cluster's proxy does not
 * take, and what applies instead.
 *
 * @module
 */
import type { NetworkingSpec } from "../../api/index.js"
import type { ProxyPolicyKind } from "../../render/proxy-limits.js"
import { type ConditionState, Reason } from "./conditions.js"

/** What the condition is folded from. */
export interface ProxySettingsFacts {
  readonly networking: NetworkingSpec | undefined
  readonly trafficStopped: boolean
  /** Why the site route fell back to the dev site proxy, if it did (render/site-route.ts). */
  readonly siteFallback: string | undefined
  /** The NGINX Gateway Fabric policy kinds the cluster serves. */
  readonly served: ReadonlyArray<ProxyPolicyKind>
  /** Whether a rendered policy or Ingress is still to be applied. */
  readonly pending: boolean
  /** The name of the site HTTPRoute (deleting it tries the rewrite again). */
  readonly siteRouteName: string
}

const type = "ProxySettingsApplied" as const

/** The condition. */
export const proxySettingsCondition = (facts: ProxySettingsFacts): ConditionState => {
  const { networking } = facts
  if (networking === undefined) {
    return { type, status: "True", reason: Reason.Skipped, message: "no networking" }
  }
  if (facts.trafficStopped) {
    return {
      type,
      status: "True",
      reason: Reason.Skipped,
      message: "public routes are withdrawn while the exportImport upgrade runs"
    }
  }
  const { limits } = networking
  const gateway = networking.mode === "gateway"
  const fallback =
    facts.siteFallback === undefined
      ? []
      : [
          `the site host goes to Convex's dev site proxy (port 3211, at most 4 HTTP actions at a time) because ${facts.siteFallback}; ` +
            `another Gateway (spec.networking.parentRefs or gatewayClassName) or deleting HTTPRoute ${facts.siteRouteName} tries the /http rewrite again`
        ]
  const missing = gateway
    ? [
        ...(facts.served.includes("ClientSettingsPolicy")
          ? []
          : [
              `the Gateway's own request body limit applies, not spec.networking.limits.maxRequestBodySize (${limits.maxRequestBodySize}): NGINX Gateway Fabric's ClientSettingsPolicy CRD is not installed (NGINX allows 1m by default; raise the limit at the Gateway for deploys and uploads)`
            ]),
        ...(facts.served.includes("ProxySettingsPolicy")
          ? []
          : [
              `the Gateway's own read and send timeouts apply, not spec.networking.limits (${limits.readTimeoutSeconds} s, ${limits.sendTimeoutSeconds} s): NGINX Gateway Fabric's ProxySettingsPolicy CRD (NGF 2.6 or later) is not installed`
            ])
      ]
    : []
  if (fallback.length > 0 || missing.length > 0) {
    return {
      type,
      status: "False",
      reason: fallback.length > 0 ? Reason.SiteProxyFallback : Reason.GatewayLimitsApply,
      message: [...fallback, ...missing].join("; ")
    }
  }
  if (facts.pending) {
    return { type, status: "False", reason: Reason.Provisioning, message: "applying the proxy settings" }
  }
  const site =
    networking.siteHost === undefined
      ? ""
      : networking.siteRoute === "rewrite"
        ? "; the site host goes to port 3210 under /http"
        : "; the site host goes to Convex's dev site proxy, port 3211 (siteRoute: proxy)"
  const where = gateway
    ? "ClientSettingsPolicy and ProxySettingsPolicy in place"
    : "ingress-nginx annotations on the Ingress"
  return {
    type,
    status: "True",
    reason: Reason.Available,
    message: `${where}: body up to ${limits.maxRequestBodySize}, read timeout ${limits.readTimeoutSeconds} s, send timeout ${limits.sendTimeoutSeconds} s${site}`
  }
}
