/**
 * The Ingress `<name>-ingress` (networking mode `ingress`, for clusters without Gateway API): the same host →
 * port mapping as the HTTPRoutes, every host at `/`, with TLS from `tlsSecretRef` and the ingress-nginx annotations
 * of `limits` (render/proxy-limits.ts). A site host that ingress-nginx rewrites has an Ingress of its own
 * (render/site-ingress.ts).
 *
 * @module
 */
import { childMeta, type RenderContext } from "./context.js"
import { metricsBlockIngressPath } from "./metrics.js"
import type { Ingress } from "./objects.js"
import { ingressLimitAnnotations } from "./proxy-limits.js"
import { exposesMetrics, hostRoutes } from "./routing.js"

/** Renders the Ingress, or nothing outside ingress mode. */
export const renderIngress = (context: RenderContext): Ingress | undefined => {
  const networking = context.instance.spec.networking
  if (networking === undefined || networking.mode !== "ingress") return undefined
  const routes = hostRoutes(context).filter((route) => route.rewritePrefix === undefined)
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: childMeta(context, context.names.ingress, "routing", {
      annotations: { ...ingressLimitAnnotations(networking.limits), ...networking.ingressAnnotations }
    }),
    spec: {
      ...(networking.ingressClassName !== undefined ? { ingressClassName: networking.ingressClassName } : {}),
      ...(networking.tlsSecretRef !== undefined
        ? { tls: [{ hosts: routes.map((route) => route.host), secretName: networking.tlsSecretRef }] }
        : {}),
      rules: routes.map((route) => ({
        host: route.host,
        http: {
          paths: [
            {
              path: "/",
              pathType: "Prefix",
              backend: { service: { name: route.service, port: { number: route.port } } }
            },
            ...(exposesMetrics(route) ? [metricsBlockIngressPath(context)] : [])
          ]
        }
      }))
    }
  }
}
