/**
 * Kubeconfigs for ServiceAccounts, with a token from the TokenRequest API: a process run with one has exactly the
 * permissions that account's RBAC grants (not the cluster-admin certificate of the test harness).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { install } from "convex-operator"
import type { LocalClusterInfo } from "../../integration/support.js"
import { repoRoot } from "../../support/manifests.js"
import type { Kubectl } from "./kube.js"

/** Writes a kubeconfig for `namespace/serviceAccount` to `file` and returns the file. */
export const serviceAccountKubeconfig = (options: {
  readonly kubectl: Kubectl
  readonly cluster: Pick<LocalClusterInfo, "server" | "ca">
  readonly namespace: string
  readonly serviceAccount: string
  readonly file: string
}): string => {
  const { kubectl, cluster, namespace, serviceAccount, file } = options
  const token = kubectl(["create", "token", serviceAccount, "-n", namespace, "--duration=2h"]).trim()
  fs.writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "e2e",
          cluster: { server: cluster.server, "certificate-authority-data": Buffer.from(cluster.ca).toString("base64") }
        }
      ],
      users: [{ name: serviceAccount, user: { token } }],
      contexts: [{ name: "e2e", context: { cluster: "e2e", user: serviceAccount } }],
      "current-context": "e2e"
    }),
    { mode: 0o600 }
  )
  return file
}

/** The operator's ServiceAccount under the generated RBAC (config/rbac/role.yaml), applied first. */
export const operatorKubeconfig = (kubectl: Kubectl, cluster: Pick<LocalClusterInfo, "server" | "ca">, dir: string) => {
  kubectl(["apply", "--server-side", "-f", path.join(repoRoot, "config/rbac/role.yaml")])
  return serviceAccountKubeconfig({
    kubectl,
    cluster,
    namespace: install.namespace,
    serviceAccount: install.serviceAccount,
    file: path.join(dir, "operator.kubeconfig")
  })
}
