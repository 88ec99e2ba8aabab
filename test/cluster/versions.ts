/**
 * The pinned versions of the local control plane, and where its assets live.
 *
 * Kubernetes 1.34 is the minor that `@kubernetes/client-node` 1.4 targets. etcd 3.6.8 is the newest
 * 3.6 patch whose module still builds with Go 1.24 (the minimum of Kubernetes 1.34).
 */
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const versions = {
  kubernetes: "v1.34.4",
  etcd: "v3.6.8",
  kwok: "v0.7.0",
  gatewayApi: "v1.4.1"
} as const

/** `v1.34.4` → `{ major: "1", minor: "34", patch: "4" }`; staging modules are `v0.<minor>.<patch>`. */
export const kubernetesVersionParts = (version: string) => {
  const match = /^v(\d+)\.(\d+)\.(\d+)$/.exec(version)
  if (match === null) throw new Error(`not a Kubernetes release version: ${version}`)
  const [, major, minor, patch] = match as unknown as [string, string, string, string]
  return { major, minor, patch, staging: `v0.${minor}.${patch}` }
}

const strip = (v: string) => v.replace(/^v/, "")

/** Root of this project's cache: `$CONVEX_OPERATOR_CACHE_DIR`, else `$XDG_CACHE_HOME/convex-operator`, else `~/.cache/convex-operator`. */
export const cacheRoot = (env: NodeJS.ProcessEnv = process.env): string =>
  env.CONVEX_OPERATOR_CACHE_DIR ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "convex-operator")

/** The version-keyed folder name, e.g. `1.34.4-etcd3.6.8-kwok0.7.0`. */
export const assetsKey = `${strip(versions.kubernetes)}-etcd${strip(versions.etcd)}-kwok${strip(versions.kwok)}`

export const cachePaths = (env: NodeJS.ProcessEnv = process.env) => {
  const k8s = path.join(cacheRoot(env), "k8s")
  return {
    /** Binaries, flat, like an envtest `KUBEBUILDER_ASSETS` folder. */
    binDir: path.join(k8s, assetsKey),
    /** Wrapper modules and build logs. */
    workDir: path.join(k8s, "build", assetsKey),
    gatewayApiCrdDir: path.join(k8s, `gateway-api-${versions.gatewayApi}`),
    kwokStagesFile: path.join(k8s, `kwok-${versions.kwok}-stages.yaml`)
  }
}

export const binaries = {
  etcd: "etcd",
  apiserver: "kube-apiserver",
  controllerManager: "kube-controller-manager",
  scheduler: "kube-scheduler",
  kwok: "kwok",
  kubectl: "kubectl"
} as const

export type BinaryName = (typeof binaries)[keyof typeof binaries]

export const allBinaries: ReadonlyArray<BinaryName> = Object.values(binaries)

/** Stage configs shipped in the kwok module (paths inside it), concatenated into one `--config` file. */
export const kwokStageFiles = [
  "kustomize/stage/node/fast/node-initialize.yaml",
  "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
  "kustomize/stage/pod/fast/pod-ready.yaml",
  "kustomize/stage/pod/fast/pod-complete.yaml",
  "kustomize/stage/pod/fast/pod-delete.yaml"
] as const

/**
 * Our own Stage configs (in `test/cluster/stages/`), passed to kwok after its own: `job-pod-failed` fails Job pods
 * labelled `test.convex.icod.de/job-pod-outcome=Failed` (see "Failing Jobs on purpose" in test/cluster/README.md);
 * `pod-never-ready` keeps pods labelled `test.convex.icod.de/pod-ready=Never` running but never Ready (see "Pods
 * that never become Ready").
 */
export const localKwokStageFiles: ReadonlyArray<string> = [
  fileURLToPath(new URL("./stages/job-pod-failed.yaml", import.meta.url)),
  fileURLToPath(new URL("./stages/pod-never-ready.yaml", import.meta.url))
]
