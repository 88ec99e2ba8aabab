/**
 * `convex-operator manifests`: the CRD and the operator's RBAC (with the Namespace they live in), from the same
 * renderers `npm run generate` writes `config/crd` and `config/rbac` with. `convex-operator manifests |
 * kubectl apply --server-side -f -` prepares a cluster for `convex-operator run` as the generated ServiceAccount;
 * `dist/install.yaml` adds the manager Deployment.
 */
import { convexInstanceCrd } from "@convex-operator/core"
import { Command } from "@effect/cli"
import { Console } from "effect"
import { yamlDocuments } from "../manifests.js"
import { clusterRbac, install } from "../rbac.js"

/** The operator's Namespace, as `dist/install.yaml` has it. */
export const operatorNamespace = (): Record<string, unknown> => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name: install.namespace, labels: { "app.kubernetes.io/name": "convex-operator" } }
})

/** CRD, Namespace, ServiceAccount, ClusterRole and binding, leader-election Role and binding, in apply order. */
export const manifestObjects = (): ReadonlyArray<unknown> => [convexInstanceCrd, operatorNamespace(), ...clusterRbac()]

export const manifestsCommand = Command.make("manifests", {}, () =>
  Console.log(yamlDocuments(manifestObjects()).trimEnd())
).pipe(
  Command.withDescription(
    "Print the CRD, the operator's Namespace and its RBAC as YAML (pipe to kubectl apply --server-side -f -)."
  )
)
