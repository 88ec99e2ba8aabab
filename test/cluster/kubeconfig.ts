/** The admin kubeconfig of a local cluster (certificates inlined, so the file stands alone). */
import * as fs from "node:fs"
import type { KubeCredentials } from "./kube-http.js"

const b64 = (pem: string) => Buffer.from(pem, "utf8").toString("base64")

export const renderKubeconfig = (credentials: KubeCredentials, name = "convex-operator-local"): string =>
  `apiVersion: v1
kind: Config
clusters:
  - name: ${name}
    cluster:
      server: ${credentials.server}
      certificate-authority-data: ${b64(credentials.ca)}
users:
  - name: ${name}-admin
    user:
      client-certificate-data: ${b64(credentials.cert)}
      client-key-data: ${b64(credentials.key)}
contexts:
  - name: ${name}
    context:
      cluster: ${name}
      user: ${name}-admin
      namespace: default
current-context: ${name}
`

export const writeKubeconfig = (file: string, credentials: KubeCredentials): void =>
  fs.writeFileSync(file, renderKubeconfig(credentials), { mode: 0o600 })
