/**
 * RBAC pieces for the RBAC fault tests: taking one verb on one resource out of a ClusterRole (and putting the role
 * back), asking the apiserver whether a user may do something, and sorting the audit log's requests by scope.
 */
import type { AuditEvent } from "./audit.js"
import type { Kubectl } from "./kube.js"

export interface Rule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<string>
  readonly [key: string]: unknown
}

/**
 * `rules` without `verb` on `resource` of `group`: the resource leaves the rule that names it and gets a rule of
 * its own with the other verbs. Throws when no rule grants it (the test would prove nothing).
 */
export const withoutVerb = (
  rules: ReadonlyArray<Rule>,
  group: string,
  resource: string,
  verb: string
): ReadonlyArray<Rule> => {
  const granting = rules.find(
    (rule) => rule.apiGroups.includes(group) && rule.resources.includes(resource) && rule.verbs.includes(verb)
  )
  if (granting === undefined) throw new Error(`no rule grants ${verb} on ${resource} in API group "${group}"`)
  const others = granting.resources.filter((name) => name !== resource)
  return [
    ...rules.flatMap((rule) =>
      rule !== granting ? [rule] : others.length === 0 ? [] : [{ ...rule, resources: others }]
    ),
    { apiGroups: [group], resources: [resource], verbs: granting.verbs.filter((name) => name !== verb) }
  ]
}

/** The ClusterRole `name` as stored, without the fields the server sets (to replace it with later). */
export const readClusterRole = (kubectl: Kubectl, name: string) => {
  const role = kubectl.json<{ metadata: Record<string, unknown>; rules: ReadonlyArray<Rule> }>(["clusterrole", name])
  if (role === undefined) throw new Error(`no ClusterRole ${name}`)
  const { resourceVersion, uid, creationTimestamp, managedFields, ...metadata } = role.metadata
  return { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata, rules: role.rules }
}

/** `kubectl auth can-i` as `user` (impersonated by the test's admin): true for "yes", false for "no". */
export const canI = (kubectl: Kubectl, user: string, verb: string, resource: string, namespace: string): boolean => {
  try {
    return kubectl(["auth", "can-i", verb, resource, "-n", namespace, `--as=${user}`]).trim() === "yes"
  } catch {
    return false // "no" exits with 1
  }
}

/** An audit event with the request's path, which the shared reader's type leaves out. */
export type AuditRequest = AuditEvent & { readonly requestURI?: string }

/** The API's discovery documents and version: readable by every authenticated user, about no object. */
const discovery = /^\/(api|apis|version|openapi)(\/|\?|$)/

/**
 * How a request of a namespaced operator is scoped:
 * - `namespaced`: it names an object or collection in a namespace (objectRef.namespace);
 * - `discovery`: a non-resource GET of the discovery documents or /version (no objectRef), which lists no
 *   object and which RBAC grants every authenticated user (system:discovery), so it needs nothing cluster-wide;
 * - `cluster`: anything else — a resource request without a namespace (a list or watch across all namespaces, a
 *   cluster-scoped kind) or another non-resource path.
 */
export const scopeOf = (event: AuditRequest): "namespaced" | "discovery" | "cluster" => {
  if (event.objectRef !== undefined) {
    return event.objectRef.namespace !== undefined && event.objectRef.namespace !== "" ? "namespaced" : "cluster"
  }
  return event.verb === "get" && discovery.test(event.requestURI ?? "") ? "discovery" : "cluster"
}

/** The audit events of `username`. */
export const byUser = (events: ReadonlyArray<AuditEvent>, username: string): ReadonlyArray<AuditRequest> =>
  events.filter((event) => event.user?.username === username)

/** `verb resource namespace/name -> code` of a request, for failure messages. */
export const describeRequest = (event: AuditRequest): string =>
  event.objectRef === undefined
    ? `${event.verb} ${event.requestURI ?? "?"} -> ${event.responseStatus?.code ?? "?"}`
    : `${event.verb} ${event.objectRef.resource ?? ""}${event.objectRef.subresource === undefined ? "" : `/${event.objectRef.subresource}`} ${event.objectRef.namespace ?? "(cluster)"}/${event.objectRef.name ?? ""} -> ${event.responseStatus?.code ?? "?"}`
