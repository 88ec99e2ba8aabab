/**
 * The Ingress `<name>-site-ingress` of the site host (mode `ingress`, `siteRoute: rewrite`): ingress-nginx puts
 * `/http/` in front of the path, as Convex's dev site proxy does (render/routing.ts), and sends the request to port
 * 3210. It is an Ingress of its own because ingress-nginx applies `rewrite-target` and `use-regex` to every path
 * of the Ingress object that carries them: on the shared Ingress they would rewrite the API and dashboard too.
 * `rewrite-target` is ingress-nginx's; with another Ingress controller set `siteRoute: proxy`.
 *
 * @module
 */
import { childMeta, type RenderContext } from "./context.js"
import type { Ingress } from "./objects.js"
import { ingressLimitAnnotations } from "./proxy-limits.js"
import { hostRoutes, siteRewritePrefix } from "./routing.js"

/** The ingress-nginx annotations of the rewrite: the capture group of the path `/(.*)` after `/http/`. */
export const siteRewriteAnnotations: Readonly<Record<string, string>> = {
  "nginx.ingress.kubernetes.io/use-regex": "true",
  "nginx.ingress.kubernetes.io/rewrite-target": `${siteRewritePrefix}$1`
}

/** Renders the site host's Ingress, or nothing when there is no rewritten site host in mode ingress. */
export const renderSiteIngress = (context: RenderContext): Ingress | undefined => {
  const networking = context.instance.spec.networking
  if (networking === undefined || networking.mode !== "ingress") return undefined
  const site = hostRoutes(context).find((route) => route.role === "site" && route.rewritePrefix !== undefined)
  if (site === undefined) return undefined
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: childMeta(context, context.names.siteIngress, "routing", {
      annotations: {
        ...ingressLimitAnnotations(networking.limits),
        ...networking.ingressAnnotations,
        ...siteRewriteAnnotations
      }
    }),
    spec: {
      ...(networking.ingressClassName !== undefined ? { ingressClassName: networking.ingressClassName } : {}),
      ...(networking.tlsSecretRef !== undefined
        ? { tls: [{ hosts: [site.host], secretName: networking.tlsSecretRef }] }
        : {}),
      rules: [
        {
          host: site.host,
          http: {
            paths: [
              {
                path: "/(.*)",
                pathType: "ImplementationSpecific",
                backend: { service: { name: site.service, port: { number: site.port } } }
              }
            ]
          }
        }
      ]
    }
  }
}
