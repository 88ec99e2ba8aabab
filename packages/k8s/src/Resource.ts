/**
 * Kubernetes objects as plain data, and `Resource`: what a client needs to address a kind
 * (group, version, plural, scope) plus an optional Schema that types and checks its objects.
 * Resources are explicit (like kube-rs `ApiResource`): no discovery, so a CRD installed later
 * is usable at once.
 */
import type { Schema } from "effect"

export interface OwnerReference {
  readonly apiVersion: string
  readonly kind: string
  readonly name: string
  readonly uid: string
  readonly controller?: boolean
  readonly blockOwnerDeletion?: boolean
}

export interface ObjectMeta {
  readonly name?: string | undefined
  readonly generateName?: string | undefined
  readonly namespace?: string | undefined
  readonly uid?: string | undefined
  readonly resourceVersion?: string | undefined
  readonly generation?: number | undefined
  readonly creationTimestamp?: string | undefined
  readonly deletionTimestamp?: string | undefined
  readonly deletionGracePeriodSeconds?: number | undefined
  readonly labels?: Readonly<Record<string, string>> | undefined
  readonly annotations?: Readonly<Record<string, string>> | undefined
  readonly finalizers?: ReadonlyArray<string> | undefined
  readonly ownerReferences?: ReadonlyArray<OwnerReference> | undefined
  readonly managedFields?: ReadonlyArray<unknown> | undefined
}

/** Any Kubernetes object. */
export interface KubeObject {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: ObjectMeta
  readonly [field: string]: unknown
}

/** How to address a kind, without its object type. */
export interface ResourceType {
  /** "" for the core group. */
  readonly group: string
  readonly version: string
  readonly kind: string
  readonly plural: string
  readonly namespaced: boolean
  /** `group/version`, or `version` for the core group. */
  readonly apiVersion: string
}

export interface Resource<A extends KubeObject = KubeObject> extends ResourceType {
  /** Decodes objects read from the apiserver; absent: objects are taken as they come. */
  readonly schema?: Schema.Schema<A, KubeObject>
}

export const make = <A extends KubeObject = KubeObject>(options: {
  readonly group: string
  readonly version: string
  readonly kind: string
  readonly plural: string
  readonly namespaced: boolean
  readonly schema?: Schema.Schema<A, KubeObject>
}): Resource<A> => ({
  ...options,
  apiVersion: options.group === "" ? options.version : `${options.group}/${options.version}`
})

/** The same resource, with objects decoded by `schema`. */
export const withSchema = <A extends KubeObject>(
  resource: Resource<KubeObject>,
  schema: Schema.Schema<A, KubeObject>
): Resource<A> => ({ ...resource, schema })

// A few built-in kinds a controller commonly touches.
export const ConfigMap = make({ group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true })
export const Secret = make({ group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true })
export const Service = make({ group: "", version: "v1", kind: "Service", plural: "services", namespaced: true })
export const Pod = make({ group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true })
export const Namespace = make({ group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false })
export const PersistentVolumeClaim = make({
  group: "",
  version: "v1",
  kind: "PersistentVolumeClaim",
  plural: "persistentvolumeclaims",
  namespaced: true
})
export const StatefulSet = make({
  group: "apps",
  version: "v1",
  kind: "StatefulSet",
  plural: "statefulsets",
  namespaced: true
})
export const Deployment = make({
  group: "apps",
  version: "v1",
  kind: "Deployment",
  plural: "deployments",
  namespaced: true
})
export const Job = make({ group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true })
export const Lease = make({
  group: "coordination.k8s.io",
  version: "v1",
  kind: "Lease",
  plural: "leases",
  namespaced: true
})
export const Event = make({ group: "events.k8s.io", version: "v1", kind: "Event", plural: "events", namespaced: true })

/** `namespace/name`, or `name` for cluster-scoped objects: the key of caches and work queues. */
export type ObjectKey = string

export const key = (namespace: string | undefined, name: string): ObjectKey =>
  namespace === undefined || namespace === "" ? name : `${namespace}/${name}`

export const keyOf = (object: KubeObject): ObjectKey => key(object.metadata.namespace, object.metadata.name ?? "")

export const parseKey = (k: ObjectKey): { readonly namespace: string | undefined; readonly name: string } => {
  const slash = k.indexOf("/")
  return slash < 0 ? { namespace: undefined, name: k } : { namespace: k.slice(0, slash), name: k.slice(slash + 1) }
}

/** The URL path of a collection (no name) or of one object. */
export const path = (
  resource: ResourceType,
  options: {
    readonly namespace?: string | undefined
    readonly name?: string | undefined
    readonly subresource?: string | undefined
  }
): string => {
  const base = resource.group === "" ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`
  const ns =
    resource.namespaced && options.namespace !== undefined && options.namespace !== ""
      ? `/namespaces/${encodeURIComponent(options.namespace)}`
      : ""
  const name = options.name === undefined ? "" : `/${encodeURIComponent(options.name)}`
  const sub = options.subresource === undefined ? "" : `/${options.subresource}`
  return `${base}${ns}/${resource.plural}${name}${sub}`
}

/** The controller ownerReference of an object, if any. */
export const controllerOf = (object: KubeObject): OwnerReference | undefined =>
  object.metadata.ownerReferences?.find((ref) => ref.controller === true)

/** An ownerReference that makes `owner` the controller of another object. */
export const ownerReference = (
  owner: KubeObject,
  options: { readonly blockOwnerDeletion?: boolean } = {}
): OwnerReference => ({
  apiVersion: owner.apiVersion,
  kind: owner.kind,
  name: owner.metadata.name ?? "",
  uid: owner.metadata.uid ?? "",
  controller: true,
  blockOwnerDeletion: options.blockOwnerDeletion ?? true
})
