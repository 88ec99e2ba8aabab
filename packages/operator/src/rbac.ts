/**
 * The operator's RBAC, written from the calls the code makes (each rule names them), and rendered for
 * `config/rbac/` (`npm run generate`; a drift test keeps the files in step) and `convex-operator manifests`.
 *
 * - A ClusterRole for watching all namespaces, or the same rules as a Role for one namespace.
 * - Leader election needs only Leases, in the operator's own namespace (a Role there).
 *
 * The end-to-end tests run the operator as a user bound to exactly these rules, so a call missing here fails there.
 *
 * @module
 */
import { backupPlural, group, plural, scheduledBackupPlural } from "@convex-operator/core"
import { Resource } from "@convex-operator/k8s"
import { childResources } from "./shell/resources.js"

export interface PolicyRule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<string>
}

/** Namespace and names of the installed operator. */
export const install = {
  namespace: "convex-operator-system",
  serviceAccount: "convex-operator",
  role: "convex-operator",
  leaderElectionRole: "convex-operator-leader-election"
} as const

const sorted = (values: ReadonlyArray<string>) => [...new Set(values)].sort()

/** Groups rules by API group with sorted resources and verbs, for stable output. */
const rule = (apiGroup: string, resources: ReadonlyArray<string>, verbs: ReadonlyArray<string>): PolicyRule => ({
  apiGroups: [apiGroup],
  resources: sorted(resources),
  verbs: sorted(verbs)
})

/** The rules of the reconciler, for all namespaces (ClusterRole) or one (Role). */
export const operatorRules = (): ReadonlyArray<PolicyRule> => {
  // Children (cache.ts: list+watch with the managed-by label; reconciler.ts: server-side apply, which creates an
  // absent object, and delete of obsolete ones). Referenced Secrets and ConfigMaps (references.ts: list+watch with
  // the field selector metadata.name=<name> in the instance's namespace; get when the cache has not seen them yet).
  // RBAC cannot narrow list/watch to a label, nor to names it does not know in advance, so list and watch of Secrets
  // stay granted for every namespace watched; the code asks for no Secret it does not need (docs/security.md).
  // Children include the env Jobs' Role and RoleBinding (core render/env-access.ts): RBAC lets the operator grant
  // them only because it holds what they grant itself (get, create and patch of Secrets); it has no escalate/bind.
  const childVerbs = ["get", "list", "watch", "create", "patch", "delete"]
  const byGroup = new Map<string, Array<string>>()
  for (const resource of childResources) {
    // The pre-upgrade ConvexBackups are children too; their group has its own rules below.
    if (resource.group === group) continue
    byGroup.set(resource.group, [...(byGroup.get(resource.group) ?? []), resource.plural])
  }
  return [
    ...[...byGroup.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([apiGroup, resources]) => rule(apiGroup, resources, childVerbs)),
    // ConvexInstances: list+watch (cache.ts), merge patch of metadata.finalizers (reconciler.ts, finalizer.ts).
    rule(group, [plural], ["get", "list", "watch", "patch"]),
    // Status: server-side apply on the status subresource (reconciler.ts).
    rule(group, [`${plural}/status`], ["patch"]),
    // Owner references with blockOwnerDeletion need update on the owner's finalizers (OwnerReferencesPermissionEnforcement).
    rule(group, [`${plural}/finalizers`], ["update"]),
    // ConvexBackups: watched (backup-controller.ts, cache.ts), created by schedules (schedule-controller.ts) and by
    // upgrades (server-side apply, reconciler.ts) and deleted by schedules; Jobs
    // owned by them with blockOwnerDeletion need update on their finalizers. ConvexScheduledBackups: watched.
    // Their data finalizer is added and removed with a merge patch.
    rule(group, [backupPlural], ["get", "list", "watch", "create", "delete", "patch"]),
    rule(group, [scheduledBackupPlural], ["get", "list", "watch"]),
    rule(group, [`${backupPlural}/status`, `${scheduledBackupPlural}/status`], ["patch"]),
    rule(group, [`${backupPlural}/finalizers`, `${scheduledBackupPlural}/finalizers`], ["update"]),
    // Pods of finished backup Jobs: the store container's termination message holds the ZIP's size. Pods of the
    // backend StatefulSet: one of a reverted template that is not Ready is deleted (forced-rollback.ts).
    rule(Resource.Pod.group, [Resource.Pod.plural], ["list", "delete"]),
    // Events (EventRecorder: create, and patch of a series).
    rule(Resource.Event.group, [Resource.Event.plural], ["create", "patch"])
  ]
}

/** Leader election (LeaderElection: get, create, then replace of the Lease). */
export const leaderElectionRules = (): ReadonlyArray<PolicyRule> => [
  rule(Resource.Lease.group, [Resource.Lease.plural], ["get", "create", "update"])
]

const subject = { kind: "ServiceAccount", name: install.serviceAccount, namespace: install.namespace }

/** Everything for an operator watching all namespaces. */
export const clusterRbac = (): ReadonlyArray<Record<string, unknown>> => [
  {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: install.serviceAccount, namespace: install.namespace }
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: install.role },
    rules: operatorRules()
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: install.role },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: install.role },
    subjects: [subject]
  },
  ...leaderElectionRbac()
]

/** The Lease Role and its binding, in the operator's namespace. */
export const leaderElectionRbac = (): ReadonlyArray<Record<string, unknown>> => [
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: install.leaderElectionRole, namespace: install.namespace },
    rules: leaderElectionRules()
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: install.leaderElectionRole, namespace: install.namespace },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: install.leaderElectionRole },
    subjects: [subject]
  }
]

/**
 * The namespace-scoped variant (`run --namespaces <ns>`): the same rules as a Role and RoleBinding without a
 * namespace, applied with `kubectl apply -n <ns>`.
 */
export const namespacedRbac = (): ReadonlyArray<Record<string, unknown>> => [
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: install.role },
    rules: operatorRules()
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: install.role },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: install.role },
    subjects: [subject]
  }
]
