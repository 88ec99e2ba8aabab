/**
 * How a request the apiserver refused (401/403) is told to users: which verb on which resource in which namespace
 * the operator was denied, as whom, and where the permission is granted.
 *
 * The message is built only from those parts, read from the apiserver's RBAC message (`User "u" cannot patch
 * resource "statefulsets" in API group "apps" in the namespace "a"`) or, when it does not have that shape, from the
 * request the operator made. Nothing else of the apiserver's text is passed on, so no request body (a Secret's
 * data) can reach a condition, an event or a log line through it.
 *
 * @module
 */
import type { Forbidden } from "@convex-operator/k8s"

/** The request the operator made, for when the apiserver's message does not say what was denied. */
export interface Attempt {
  /** The RBAC verbs the request was refused as far as the operator can tell (a create check says nothing). */
  readonly verbs: ReadonlyArray<string>
  /** Plural, with `/status` for the status subresource. */
  readonly resource: string
  readonly group: string
  readonly namespace: string
}

/** What the apiserver says was denied. */
export interface Denied {
  readonly verb: string
  readonly resource: string
  readonly group: string
  /** Undefined: at the cluster scope. */
  readonly namespace: string | undefined
  readonly user: string | undefined
}

// Names as Kubernetes allows them (DNS labels and subdomains, verbs, `plural/subresource`): no quotes, no spaces.
const word = "[A-Za-z0-9.:@_/-]*"
const denial = new RegExp(
  `User "(${word})" cannot (${word}) resource "(${word})" in API group "(${word})" (?:in the namespace "(${word})"|at the cluster scope)`
)

/** The parts of the apiserver's RBAC message, if it has that shape. */
export const parseDenied = (message: string): Denied | undefined => {
  const match = denial.exec(message)
  if (match === null) return undefined
  const [, user, verb, resource, group, namespace] = match
  if (verb === undefined || resource === undefined || group === undefined) return undefined
  return { verb, resource, group, namespace, user: user === "" ? undefined : user }
}

const qualified = (resource: string, group: string) => (group === "" ? resource : `${resource}.${group}`)

/**
 * The user-facing message of a refused request, e.g. `Forbidden: the operator may not patch statefulsets.apps in
 * namespace team-a (as system:serviceaccount:ops:convex-operator): its ClusterRole, or with --namespaces its Role
 * in team-a, needs "patch" on "statefulsets" in API group "apps" (convex-operator manifests prints the rules it
 * needs)`.
 */
export const describeForbidden = (error: Forbidden, attempt: Attempt): string => {
  if (error.code === 401) {
    return `Unauthorized: the apiserver did not accept the operator's credentials when it tried to ${attempt.verbs.join(
      "/"
    )} ${qualified(attempt.resource, attempt.group)} in namespace ${attempt.namespace}: renew its ServiceAccount token or kubeconfig`
  }
  const denied = parseDenied(error.message)
  const verbs = denied === undefined ? attempt.verbs : [denied.verb]
  const resource = denied?.resource ?? attempt.resource
  const group = denied?.group ?? attempt.group
  const namespace = denied === undefined ? attempt.namespace : denied.namespace
  const where = namespace === undefined ? "at the cluster scope" : `in namespace ${namespace}`
  const as = denied?.user === undefined ? "" : ` (as ${denied.user})`
  const grant =
    namespace === undefined
      ? "its ClusterRole needs"
      : `its ClusterRole, or with --namespaces its Role in ${namespace}, needs`
  return `Forbidden: the operator may not ${verbs.join("/")} ${qualified(resource, group)} ${where}${as}: ${grant} ${verbs
    .map((verb) => `"${verb}"`)
    .join(" and ")} on "${resource}" in API group "${group}" (convex-operator manifests prints the rules it needs)`
}
