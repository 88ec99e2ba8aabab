/**
 * The backend's Prometheus metrics (`backend.metrics`). Convex serves `/metrics` next to `/version` on every
 * HTTP listener it opens, the API port 3210 and the dev site proxy 3211 (the "meta routes" of `ConvexHttpService`
 * in get-convex/convex-backend `crates/common/src/http/mod.rs`), unless `DISABLE_METRICS_ENDPOINT` is true
 * (`crates/common/src/knobs.rs`; the binary defaults to false, Convex's docker-compose.yml sets true). So:
 *
 * - metrics disabled (the default): `DISABLE_METRICS_ENDPOINT=true` (render/backend-env.ts);
 * - public routes never forward `/metrics` on a host that reaches one of those listeners unrewritten, whether or
 *   not metrics are enabled (a user's `backend.env` may turn them on): a rule for the path prefix `/metrics` with
 *   no backend, which a Gateway answers with 500 (Gateway API `HTTPRouteRule.backendRefs`), and on an Ingress a
 *   path to `<name>-metrics-blocked`, a Service without a selector and so without endpoints (503);
 * - metrics enabled and the Prometheus Operator installed: a PodMonitor `<name>-backend` scrapes the pod's port
 *   `http` at `/metrics` from inside the cluster. A PodMonitor rather than a ServiceMonitor: the backend's client
 *   and headless Services carry the same labels, so a ServiceMonitor would scrape the one pod twice.
 *
 * @module
 */
import { childMeta, type RenderContext } from "./context.js"
import { selectorLabels } from "./labels.js"
import type { HTTPRouteRule, PodMonitor, Service } from "./objects.js"

/** The path Convex serves metrics at. */
export const metricsPath = "/metrics"

/** The HTTPRoute rule that keeps `/metrics` (and everything below it) from reaching the backend: no backend. */
export const metricsBlockRule: HTTPRouteRule = { matches: [{ path: { type: "PathPrefix", value: metricsPath } }] }

/** The Ingress path that sends `/metrics` to the endpoint-less Service. */
export const metricsBlockIngressPath = (context: RenderContext) =>
  ({
    path: metricsPath,
    pathType: "Prefix",
    backend: { service: { name: context.names.metricsBlocked, port: { number: 80 } } }
  }) as const

/** The Service without a selector (so without endpoints) that `/metrics` goes to on an Ingress. */
export const renderMetricsBlockedService = (context: RenderContext): Service => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: childMeta(context, context.names.metricsBlocked, "routing"),
  spec: { type: "ClusterIP", ports: [{ name: "none", port: 80, targetPort: 80, protocol: "TCP" }] }
})

/** Renders the PodMonitor when metrics are enabled and the cluster serves PodMonitors. */
export const renderBackendPodMonitor = (context: RenderContext, podMonitors: boolean): PodMonitor | undefined => {
  const metrics = context.instance.spec.backend.metrics
  if (!metrics.enabled || !podMonitors) return undefined
  const meta = childMeta(context, context.names.backend, "backend")
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PodMonitor",
    metadata: { ...meta, labels: { ...metrics.podMonitorLabels, ...meta.labels } },
    spec: {
      selector: { matchLabels: selectorLabels(context.name, "backend") },
      podMetricsEndpoints: [{ port: "http", path: metricsPath, scheme: "http" }]
    }
  }
}
