/**
 * The Gateway `<name>-gateway` on `gatewayClassName` (default `nginx`), when the spec names no parentRefs: one
 * HTTPS listener per host with the TLS Secret as certificate, and one plain-HTTP listener (which only redirects
 * when TLS is on). It is rendered even before the TLS Secret exists, because cert-manager creates that Secret
 * from the Gateway.
 *
 * @module
 */
import { childMeta, type RenderContext } from "./context.js"
import type { Gateway } from "./objects.js"
import { hostRoutes, httpListenerName, httpsListenerName, ownsGateway } from "./routing.js"

/** Renders the Gateway, or nothing when routes attach to existing Gateways or go through an Ingress. */
export const renderGateway = (context: RenderContext): Gateway | undefined => {
  const networking = context.instance.spec.networking
  if (networking === undefined || !ownsGateway(context)) return undefined
  const tlsSecret = networking.tlsSecretRef
  const https =
    tlsSecret === undefined
      ? []
      : hostRoutes(context).map((route) => ({
          name: httpsListenerName(route.role),
          protocol: "HTTPS" as const,
          port: 443,
          hostname: route.host,
          tls: {
            mode: "Terminate" as const,
            certificateRefs: [{ kind: "Secret" as const, group: "" as const, name: tlsSecret }]
          },
          allowedRoutes: { namespaces: { from: "Same" as const } }
        }))
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: childMeta(context, context.names.gateway, "routing", { annotations: networking.gatewayAnnotations }),
    spec: {
      gatewayClassName: networking.gatewayClassName,
      listeners: [
        ...https,
        { name: httpListenerName, protocol: "HTTP", port: 80, allowedRoutes: { namespaces: { from: "Same" } } }
      ]
    }
  }
}
