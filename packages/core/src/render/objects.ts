/**
 * The minimal shapes of the Kubernetes objects that core renders and reads. Core does not depend on a
 * Kubernetes client library: these are plain JSON shapes, exactly what is sent with server-side apply.
 * Optional fields are absent, never `undefined`, so a rendered object serializes as it is compared.
 *
 * @module
 */
import type {
  ConvexBackupSpecEncoded,
  EnvVar,
  ObjectMeta,
  PodSecurityContext,
  ResourceRequirements,
  SecurityContext
} from "../api/index.js"

/** Any Kubernetes object: what core reads from the cluster (fields it does not model are kept as `unknown`). */
export interface KubeObject {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: ObjectMeta
  readonly [field: string]: unknown
}

/** A rendered object's metadata: always named, namespaced and labelled. */
export interface RenderedMeta extends ObjectMeta {
  readonly name: string
  readonly namespace: string
  readonly labels: Readonly<Record<string, string>>
}

/** An object rendered by core. */
export interface Rendered extends KubeObject {
  readonly metadata: RenderedMeta
}

/** `core/v1.ConfigMap`. */
export interface ConfigMap extends Rendered {
  readonly apiVersion: "v1"
  readonly kind: "ConfigMap"
  readonly data: Readonly<Record<string, string>>
}

/** `core/v1.Secret` with base64 `data` (what the apiserver returns, so rendered and observed compare equal). */
export interface Secret extends Rendered {
  readonly apiVersion: "v1"
  readonly kind: "Secret"
  readonly type: string
  readonly data: Readonly<Record<string, string>>
}

/** `core/v1.PersistentVolumeClaimSpec` (the parts core sets). */
export interface PersistentVolumeClaimSpec {
  readonly accessModes: ReadonlyArray<string>
  readonly resources: { readonly requests: Readonly<Record<string, string | number>> }
  readonly storageClassName?: string
}

/** `core/v1.PersistentVolumeClaim`. */
export interface PersistentVolumeClaim extends Rendered {
  readonly apiVersion: "v1"
  readonly kind: "PersistentVolumeClaim"
  readonly spec: PersistentVolumeClaimSpec
}

/** `core/v1.ServicePort`. */
export interface ServicePort {
  readonly name: string
  readonly port: number
  readonly targetPort: string | number
  readonly protocol: "TCP"
  readonly appProtocol?: string
}

/** `core/v1.Service`. */
export interface Service extends Rendered {
  readonly apiVersion: "v1"
  readonly kind: "Service"
  readonly spec: {
    readonly type?: "ClusterIP"
    readonly clusterIP?: "None"
    readonly publishNotReadyAddresses?: boolean
    readonly selector?: Readonly<Record<string, string>>
    readonly ports: ReadonlyArray<ServicePort>
  }
}

/** `core/v1.Probe` with an HTTP GET or exec handler. */
export interface Probe {
  readonly httpGet?: { readonly path: string; readonly port: string | number; readonly scheme?: "HTTP" }
  readonly exec?: { readonly command: ReadonlyArray<string> }
  readonly periodSeconds: number
  readonly timeoutSeconds: number
  readonly failureThreshold: number
  readonly successThreshold?: number
  readonly initialDelaySeconds?: number
}

/** `core/v1.Container` (the parts core sets). */
export interface Container {
  readonly name: string
  readonly image: string
  readonly command?: ReadonlyArray<string>
  readonly args?: ReadonlyArray<string>
  readonly ports?: ReadonlyArray<{ readonly name: string; readonly containerPort: number; readonly protocol: "TCP" }>
  readonly envFrom?: ReadonlyArray<{ readonly configMapRef: { readonly name: string } }>
  readonly env?: ReadonlyArray<EnvVar>
  readonly resources?: ResourceRequirements
  readonly volumeMounts?: ReadonlyArray<{ readonly name: string; readonly mountPath: string; readonly readOnly?: true }>
  readonly startupProbe?: Probe
  readonly readinessProbe?: Probe
  readonly livenessProbe?: Probe
  readonly lifecycle?: { readonly preStop: { readonly exec: { readonly command: ReadonlyArray<string> } } }
  readonly securityContext?: SecurityContext
  /** `FallbackToLogsOnError`: a failed container's last log lines become its termination message. */
  readonly terminationMessagePolicy?: "File" | "FallbackToLogsOnError"
}

/** One key of a Secret or ConfigMap projected into a volume as the file `path`. */
export interface KeyToPath {
  readonly key: string
  readonly path: string
}

/** `core/v1.Volume` (PVC, emptyDir, or one key of a Secret or ConfigMap). */
export interface Volume {
  readonly name: string
  readonly persistentVolumeClaim?: { readonly claimName: string }
  readonly emptyDir?: Readonly<Record<string, never>>
  readonly secret?: { readonly secretName: string; readonly items: ReadonlyArray<KeyToPath> }
  readonly configMap?: { readonly name: string; readonly items: ReadonlyArray<KeyToPath> }
}

/** `core/v1.PodTemplateSpec`. */
export interface PodTemplate {
  readonly metadata: {
    readonly labels: Readonly<Record<string, string>>
    readonly annotations?: Readonly<Record<string, string>>
  }
  readonly spec: {
    readonly initContainers?: ReadonlyArray<Container>
    readonly containers: ReadonlyArray<Container>
    readonly volumes?: ReadonlyArray<Volume>
    readonly securityContext?: PodSecurityContext
    readonly terminationGracePeriodSeconds?: number
    readonly restartPolicy?: "Always" | "Never" | "OnFailure"
    readonly enableServiceLinks?: boolean
    readonly serviceAccountName?: string
    readonly automountServiceAccountToken?: boolean
  }
}

/** `apps/v1.StatefulSet`. */
export interface StatefulSet extends Rendered {
  readonly apiVersion: "apps/v1"
  readonly kind: "StatefulSet"
  readonly spec: {
    readonly replicas: 1
    readonly serviceName: string
    readonly podManagementPolicy: "OrderedReady"
    readonly updateStrategy: { readonly type: "RollingUpdate" }
    readonly selector: { readonly matchLabels: Readonly<Record<string, string>> }
    readonly template: PodTemplate
  }
}

/** `apps/v1.Deployment`. */
export interface Deployment extends Rendered {
  readonly apiVersion: "apps/v1"
  readonly kind: "Deployment"
  readonly spec: {
    readonly replicas: number
    readonly selector: { readonly matchLabels: Readonly<Record<string, string>> }
    readonly template: PodTemplate
  }
}

/** `batch/v1.Job`. */
export interface Job extends Rendered {
  readonly apiVersion: "batch/v1"
  readonly kind: "Job"
  readonly spec: {
    readonly backoffLimit: number
    readonly template: PodTemplate
  }
}

/** `core/v1.ServiceAccount`. */
export interface ServiceAccount extends Rendered {
  readonly apiVersion: "v1"
  readonly kind: "ServiceAccount"
  readonly automountServiceAccountToken: boolean
}

/** `rbac.authorization.k8s.io/v1.PolicyRule`. */
export interface PolicyRule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly resourceNames?: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<string>
}

/** `rbac.authorization.k8s.io/v1.Role`. */
export interface Role extends Rendered {
  readonly apiVersion: "rbac.authorization.k8s.io/v1"
  readonly kind: "Role"
  readonly rules: ReadonlyArray<PolicyRule>
}

/** `rbac.authorization.k8s.io/v1.RoleBinding`. */
export interface RoleBinding extends Rendered {
  readonly apiVersion: "rbac.authorization.k8s.io/v1"
  readonly kind: "RoleBinding"
  readonly roleRef: { readonly apiGroup: "rbac.authorization.k8s.io"; readonly kind: "Role"; readonly name: string }
  readonly subjects: ReadonlyArray<{
    readonly kind: "ServiceAccount"
    readonly name: string
    readonly namespace: string
  }>
}

/** A Gateway API `ParentReference` as written in a route. */
export interface RouteParentRef {
  readonly group: "gateway.networking.k8s.io"
  readonly kind: "Gateway"
  readonly name: string
  readonly namespace?: string
  readonly sectionName?: string
}

/** `gateway.networking.k8s.io/v1.Gateway`. */
export interface Gateway extends Rendered {
  readonly apiVersion: "gateway.networking.k8s.io/v1"
  readonly kind: "Gateway"
  readonly spec: {
    readonly gatewayClassName: string
    readonly listeners: ReadonlyArray<{
      readonly name: string
      readonly protocol: "HTTP" | "HTTPS"
      readonly port: number
      readonly hostname?: string
      readonly tls?: {
        readonly mode: "Terminate"
        readonly certificateRefs: ReadonlyArray<{ readonly kind: "Secret"; readonly group: ""; readonly name: string }>
      }
      readonly allowedRoutes: { readonly namespaces: { readonly from: "Same" } }
    }>
  }
}

/** One rule of an HTTPRoute: a backend Service port at `/`, or a redirect to HTTPS. */
export interface HTTPRouteRule {
  readonly matches: ReadonlyArray<{ readonly path: { readonly type: "PathPrefix"; readonly value: string } }>
  readonly backendRefs?: ReadonlyArray<{
    readonly group: ""
    readonly kind: "Service"
    readonly name: string
    readonly port: number
    readonly weight: 1
  }>
  readonly filters?: ReadonlyArray<HTTPRouteFilter>
}

/** A filter of an HTTPRoute rule: the redirect to HTTPS, or the site host's `/http` prefix (`URLRewrite`). */
export type HTTPRouteFilter =
  | {
      readonly type: "RequestRedirect"
      readonly requestRedirect: { readonly scheme: "https"; readonly statusCode: 301 }
    }
  | {
      readonly type: "URLRewrite"
      readonly urlRewrite: {
        readonly path: { readonly type: "ReplacePrefixMatch"; readonly replacePrefixMatch: string }
      }
    }

/** `gateway.networking.k8s.io/v1.HTTPRoute`. */
export interface HTTPRoute extends Rendered {
  readonly apiVersion: "gateway.networking.k8s.io/v1"
  readonly kind: "HTTPRoute"
  readonly spec: {
    readonly parentRefs: ReadonlyArray<RouteParentRef>
    readonly hostnames: ReadonlyArray<string>
    readonly rules: ReadonlyArray<HTTPRouteRule>
  }
}

/** `networking.k8s.io/v1.Ingress`. */
export interface Ingress extends Rendered {
  readonly apiVersion: "networking.k8s.io/v1"
  readonly kind: "Ingress"
  readonly spec: {
    readonly ingressClassName?: string
    readonly tls?: ReadonlyArray<{ readonly hosts: ReadonlyArray<string>; readonly secretName: string }>
    readonly rules: ReadonlyArray<{
      readonly host: string
      readonly http: {
        readonly paths: ReadonlyArray<{
          readonly path: string
          /** `Prefix`, or `ImplementationSpecific` for the regular expression of the site host's ingress-nginx rewrite. */
          readonly pathType: "Prefix" | "ImplementationSpecific"
          readonly backend: { readonly service: { readonly name: string; readonly port: { readonly number: number } } }
        }>
      }
    }>
  }
}

/** `policy/v1.PodDisruptionBudget` (the backend's, `backend.podDisruptionBudget`). */
export interface PodDisruptionBudget extends Rendered {
  readonly apiVersion: "policy/v1"
  readonly kind: "PodDisruptionBudget"
  readonly spec: {
    readonly maxUnavailable: number
    readonly selector: { readonly matchLabels: Readonly<Record<string, string>> }
  }
}

/** A `networking.k8s.io/v1.NetworkPolicyPeer` (the parts core sets). */
export interface NetworkPolicyPeer {
  readonly podSelector?: {
    readonly matchLabels?: Readonly<Record<string, string>>
    readonly matchExpressions?: ReadonlyArray<{
      readonly key: string
      readonly operator: "In"
      readonly values: ReadonlyArray<string>
    }>
  }
  readonly namespaceSelector?: { readonly matchLabels: Readonly<Record<string, string>> }
}

/** `networking.k8s.io/v1.NetworkPolicy` (the backend's, `backend.networkPolicy`): ingress rules only. */
export interface NetworkPolicy extends Rendered {
  readonly apiVersion: "networking.k8s.io/v1"
  readonly kind: "NetworkPolicy"
  readonly spec: {
    readonly podSelector: { readonly matchLabels: Readonly<Record<string, string>> }
    readonly policyTypes: ReadonlyArray<"Ingress">
    readonly ingress: ReadonlyArray<{
      readonly from: ReadonlyArray<NetworkPolicyPeer>
      readonly ports: ReadonlyArray<{ readonly protocol: "TCP"; readonly port: number }>
    }>
  }
}

/** `monitoring.coreos.com/v1.PodMonitor` (Prometheus Operator), scraping the backend pod's `/metrics`. */
export interface PodMonitor extends Rendered {
  readonly apiVersion: "monitoring.coreos.com/v1"
  readonly kind: "PodMonitor"
  readonly spec: {
    readonly selector: { readonly matchLabels: Readonly<Record<string, string>> }
    readonly podMetricsEndpoints: ReadonlyArray<{
      readonly port: string
      readonly path: string
      readonly scheme: "http"
    }>
  }
}

/** A Gateway API `LocalPolicyTargetReference` to one of the instance's HTTPRoutes. */
export interface PolicyTargetRef {
  readonly group: "gateway.networking.k8s.io"
  readonly kind: "HTTPRoute"
  readonly name: string
}

/** NGINX Gateway Fabric's `gateway.nginx.org/v1alpha1.ClientSettingsPolicy`: the client body limit of a route. */
export interface ClientSettingsPolicy extends Rendered {
  readonly apiVersion: "gateway.nginx.org/v1alpha1"
  readonly kind: "ClientSettingsPolicy"
  readonly spec: {
    readonly targetRef: PolicyTargetRef
    readonly body: { readonly maxSize: string }
  }
}

/** NGINX Gateway Fabric's `gateway.nginx.org/v1alpha1.ProxySettingsPolicy`: upstream read and send timeouts. */
export interface ProxySettingsPolicy extends Rendered {
  readonly apiVersion: "gateway.nginx.org/v1alpha1"
  readonly kind: "ProxySettingsPolicy"
  readonly spec: {
    readonly targetRefs: ReadonlyArray<PolicyTargetRef>
    readonly timeout: { readonly read: string; readonly send: string }
  }
}

/** `convex.icod.de/v1alpha1.ConvexBackup` (the pre-upgrade export of an upgrade). */
export interface ConvexBackupObject extends Rendered {
  readonly apiVersion: "convex.icod.de/v1alpha1"
  readonly kind: "ConvexBackup"
  readonly spec: ConvexBackupSpecEncoded
}

/** Every kind core renders. */
export type ChildObject =
  | ConfigMap
  | Secret
  | PersistentVolumeClaim
  | Service
  | StatefulSet
  | Deployment
  | Job
  | ServiceAccount
  | Role
  | RoleBinding
  | Gateway
  | HTTPRoute
  | Ingress
  | ClientSettingsPolicy
  | ProxySettingsPolicy
  | PodDisruptionBudget
  | NetworkPolicy
  | PodMonitor
  | ConvexBackupObject

/** `kind/name`: identifies an object within the instance's namespace. */
export const objectKey = (object: { readonly kind: string; readonly metadata: ObjectMeta }): string =>
  `${object.kind}/${object.metadata.name ?? ""}`
