/**
 * The kinds the operator reads and writes, as `Resource`s of the k8s toolkit: the ConvexInstance, every child kind
 * `decide` may render, and Events.
 *
 * @module
 */
import { apiVersion, childKinds, group, kind, type ProxyPolicyKind, plural, version } from "@convex-operator/core"
import { type KubeObject, Resource } from "@convex-operator/k8s"
import { ConvexBackups } from "./backup-resources.js"

/** `convex.icod.de/v1alpha1` ConvexInstance (objects are decoded per reconcile, not by the watch). */
export const ConvexInstances = Resource.make({ group, version, kind, plural, namespaced: true })

const gatewayGroup = "gateway.networking.k8s.io"

export const Gateways = Resource.make({
  group: gatewayGroup,
  version: "v1",
  kind: "Gateway",
  plural: "gateways",
  namespaced: true
})
export const HTTPRoutes = Resource.make({
  group: gatewayGroup,
  version: "v1",
  kind: "HTTPRoute",
  plural: "httproutes",
  namespaced: true
})
export const Ingresses = Resource.make({
  group: "networking.k8s.io",
  version: "v1",
  kind: "Ingress",
  plural: "ingresses",
  namespaced: true
})

/** The env Jobs' ServiceAccount, Role and RoleBinding of an exportImport upgrade (core `render/env-access.ts`). */
export const ServiceAccounts = Resource.make({
  group: "",
  version: "v1",
  kind: "ServiceAccount",
  plural: "serviceaccounts",
  namespaced: true
})
const rbacGroup = "rbac.authorization.k8s.io"
export const Roles = Resource.make({ group: rbacGroup, version: "v1", kind: "Role", plural: "roles", namespaced: true })
export const RoleBindings = Resource.make({
  group: rbacGroup,
  version: "v1",
  kind: "RoleBinding",
  plural: "rolebindings",
  namespaced: true
})

/** The backend's PodDisruptionBudget and NetworkPolicy (core `render/disruption-budget.ts`, `network-policy.ts`). */
export const PodDisruptionBudgets = Resource.make({
  group: "policy",
  version: "v1",
  kind: "PodDisruptionBudget",
  plural: "poddisruptionbudgets",
  namespaced: true
})
export const NetworkPolicies = Resource.make({
  group: "networking.k8s.io",
  version: "v1",
  kind: "NetworkPolicy",
  plural: "networkpolicies",
  namespaced: true
})
/** The Prometheus Operator's PodMonitor (core `render/metrics.ts`), served only where its CRDs are installed. */
export const PodMonitors = Resource.make({
  group: "monitoring.coreos.com",
  version: "v1",
  kind: "PodMonitor",
  plural: "podmonitors",
  namespaced: true
})

/** NGINX Gateway Fabric's policies (core `render/proxy-limits.ts`), served only where its CRDs are installed. */
export const ClientSettingsPolicies = Resource.make({
  group: "gateway.nginx.org",
  version: "v1alpha1",
  kind: "ClientSettingsPolicy",
  plural: "clientsettingspolicies",
  namespaced: true
})
export const ProxySettingsPolicies = Resource.make({
  group: "gateway.nginx.org",
  version: "v1alpha1",
  kind: "ProxySettingsPolicy",
  plural: "proxysettingspolicies",
  namespaced: true
})

const byKind: Readonly<Record<string, Resource.Resource<KubeObject>>> = {
  ConfigMap: Resource.ConfigMap,
  Secret: Resource.Secret,
  PersistentVolumeClaim: Resource.PersistentVolumeClaim,
  Service: Resource.Service,
  StatefulSet: Resource.StatefulSet,
  Deployment: Resource.Deployment,
  Job: Resource.Job,
  ServiceAccount: ServiceAccounts,
  Role: Roles,
  RoleBinding: RoleBindings,
  Gateway: Gateways,
  HTTPRoute: HTTPRoutes,
  Ingress: Ingresses,
  PodDisruptionBudget: PodDisruptionBudgets,
  NetworkPolicy: NetworkPolicies,
  PodMonitor: PodMonitors,
  ClientSettingsPolicy: ClientSettingsPolicies,
  ProxySettingsPolicy: ProxySettingsPolicies,
  ConvexBackup: ConvexBackups
}

/** Whether `kind` belongs to Gateway API (absent from clusters without its CRDs). */
export const isGatewayApiKind = (kindName: string): boolean => kindName === "Gateway" || kindName === "HTTPRoute"

/** Whether `kind` belongs to the Prometheus Operator (absent from clusters without its CRDs). */
export const isPrometheusOperatorKind = (kindName: string): boolean => kindName === "PodMonitor"

/** Whether `kind` is one of NGINX Gateway Fabric's policies (each absent from clusters without its CRD). */
export const isNginxPolicyKind = (kindName: string): kindName is ProxyPolicyKind =>
  kindName === "ClientSettingsPolicy" || kindName === "ProxySettingsPolicy"

/** Whether `kind` is watched only once its CRDs are installed (cache.ts). */
export const isOptionalKind = (kindName: string): boolean =>
  isGatewayApiKind(kindName) || isPrometheusOperatorKind(kindName) || isNginxPolicyKind(kindName)

/** The Resource of a child kind. */
export const resourceOf = (kindName: string): Resource.Resource<KubeObject> => {
  const resource = byKind[kindName]
  if (resource === undefined) throw new Error(`convex-operator: no resource for kind ${kindName}`)
  return resource
}

/** Every child kind, as Resources (same order as core's `childKinds`). */
export const childResources: ReadonlyArray<Resource.Resource<KubeObject>> = childKinds.map((child) =>
  resourceOf(child.kind)
)

/** The instance API version, for owner checks. */
export const instanceApiVersion = apiVersion
