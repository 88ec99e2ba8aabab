/**
 * What the env Jobs of an exportImport upgrade may touch: a ServiceAccount of their own, and a Role (with its
 * RoleBinding) allowing get, create and patch (server-side apply) of exactly one Secret, the one the variables are
 * saved to. All three are owned by the instance and exist only while the upgrade does.
 *
 * The operator can grant this only because it holds the same permissions itself (RBAC refuses to create a Role or
 * RoleBinding granting more than its creator has, unless it has `escalate`/`bind`, which the operator does not).
 *
 * @module
 */
import { childMeta, type RenderContext } from "./context.js"
import type { Role, RoleBinding, ServiceAccount } from "./objects.js"

/** The rules of the env Jobs' Role: the saved-env Secret of the upgrade with hash `hash`, nothing else. */
export const envAccessRules = (context: RenderContext, hash: string): Role["rules"] => [
  {
    apiGroups: [""],
    resources: ["secrets"],
    resourceNames: [context.names.savedEnv(hash)],
    verbs: ["create", "get", "patch"]
  }
]

/** The ServiceAccount, Role and RoleBinding of the env Jobs of the upgrade with hash `hash`. */
export const renderEnvAccess = (context: RenderContext, hash: string): readonly [ServiceAccount, Role, RoleBinding] => {
  const name = context.names.envAccess
  return [
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: childMeta(context, name, "snapshot"),
      automountServiceAccountToken: false
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: childMeta(context, name, "snapshot"),
      rules: envAccessRules(context, hash)
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: childMeta(context, name, "snapshot"),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace: context.namespace }]
    }
  ]
}
