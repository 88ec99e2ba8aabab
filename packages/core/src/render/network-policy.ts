/**
 * The backend's NetworkPolicy `<name>-backend` (`backend.networkPolicy.enabled`, off by default): only these may
 * open connections to the backend's ports 3210 and 3211:
 *
 * - this instance's own pods: the dashboard, the backend itself (Node actions call back through
 *   `CONVEX_CLOUD_ORIGIN`, which is the backend's own Service when there are no public hosts), the upgrade and
 *   restore Jobs (`component: snapshot`) and the backup Jobs (label `convex.icod.de/instance`): all of them call
 *   the backend's API;
 * - the namespaces of the Gateways the HTTPRoutes attach to (the operator's own Gateway lives in the instance's
 *   namespace, so that namespace is admitted whole);
 * - `allowFromNamespaces`: an ingress controller, a Gateway implementation whose proxies run in its own namespace
 *   (Envoy Gateway), Prometheus.
 *
 * Only ingress is restricted: the backend must still reach its database, S3 and its own public host. A policy is
 * enforced only by a CNI plugin that implements NetworkPolicy; elsewhere it is stored and ignored.
 *
 * @module
 */
import { backendApiPort, backendSiteProxyPort } from "../convex/index.js"
import { backupLabels } from "./backup-jobs.js"
import { childMeta, type RenderContext } from "./context.js"
import { labelValue, selectorLabels } from "./labels.js"
import type { NetworkPolicy, NetworkPolicyPeer } from "./objects.js"

/** The label every namespace carries with its own name (set by the apiserver since Kubernetes 1.22). */
export const namespaceNameLabel = "kubernetes.io/metadata.name"

/** The namespaces of the Gateways the instance's HTTPRoutes attach to (gateway mode only). */
const gatewayNamespaces = (context: RenderContext): ReadonlyArray<string> => {
  const networking = context.instance.spec.networking
  if (networking === undefined || networking.mode !== "gateway") return []
  if (networking.parentRefs === undefined) return [context.namespace]
  return networking.parentRefs.map((parent) => parent.namespace ?? context.namespace)
}

const fromNamespace = (context: RenderContext, namespace: string): NetworkPolicyPeer =>
  namespace === context.namespace
    ? { podSelector: {} }
    : { namespaceSelector: { matchLabels: { [namespaceNameLabel]: namespace } } }

/** Renders the NetworkPolicy, or nothing when it is disabled. */
export const renderBackendNetworkPolicy = (context: RenderContext): NetworkPolicy | undefined => {
  const policy = context.instance.spec.backend.networkPolicy
  if (!policy.enabled) return undefined
  const namespaces = [...new Set([...gatewayNamespaces(context), ...(policy.allowFromNamespaces ?? [])])].sort()
  const ownPods: ReadonlyArray<NetworkPolicyPeer> = [
    {
      podSelector: {
        matchLabels: { "app.kubernetes.io/instance": context.name },
        matchExpressions: [
          { key: "app.kubernetes.io/component", operator: "In", values: ["backend", "dashboard", "snapshot"] }
        ]
      }
    },
    {
      podSelector: {
        matchLabels: { "app.kubernetes.io/component": "backup", [backupLabels.instance]: labelValue(context.name) }
      }
    }
  ]
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: childMeta(context, context.names.backend, "backend"),
    spec: {
      podSelector: { matchLabels: selectorLabels(context.name, "backend") },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [...ownPods, ...namespaces.map((namespace) => fromNamespace(context, namespace))],
          ports: [
            { protocol: "TCP", port: backendApiPort },
            { protocol: "TCP", port: backendSiteProxyPort }
          ]
        }
      ]
    }
  }
}
