/**
 * helm for the chart tests, built from its Go module like kwok (test/cluster/build.ts): `go install
 * helm.sh/helm/v3/cmd/helm@<pinned>` into `<cache>/helm-<version>/helm` once, reused afterwards.
 * `HELM` names a helm binary to use instead.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { checkBuiltGoLine, requireGo } from "../cluster/go-toolchain.js"
import { cacheRoot } from "../cluster/versions.js"

export const helmVersion = "v3.19.0"

/**
 * As helm's Makefile sets them: its version, and the Kubernetes version `helm template` and `lint` assume (else
 * v1.20, which the chart's kubeVersion refuses); the local cluster's minor.
 */
const ldflags = [
  "-s -w",
  `-X helm.sh/helm/v3/internal/version.version=${helmVersion}`,
  "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1",
  "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=34"
].join(" ")

/** The helm binary: `$HELM`, else the cached build (built now when missing; a cold build takes 1–3 minutes). */
export const ensureHelm = async (
  log: (line: string) => void = (line) => console.log(`[helm] ${line}`)
): Promise<string> => {
  if (process.env.HELM !== undefined && process.env.HELM !== "") return process.env.HELM
  const dir = path.join(cacheRoot(), `helm-${helmVersion}`)
  const binary = path.join(dir, "helm")
  if (fs.existsSync(binary)) return binary
  requireGo(`helm ${helmVersion}`)
  const staging = `${dir}.partial-${process.pid}`
  fs.mkdirSync(staging, { recursive: true })
  const started = Date.now()
  log(`building helm ${helmVersion} into ${dir}`)
  try {
    const env = { ...process.env, GOBIN: staging, CGO_ENABLED: "0", GOTOOLCHAIN: "local", GOWORK: "off" }
    // Asynchronous: a cold build takes minutes, and a blocked test worker loses its RPC with vitest.
    await promisify(execFile)(
      "go",
      ["install", "-trimpath", "-ldflags", ldflags, `helm.sh/helm/v3/cmd/helm@${helmVersion}`],
      { env, timeout: 600_000 }
    )
    // Before the binary enters the cache: its go.mod must have the go line go-toolchain.ts's table says.
    checkBuiltGoLine("helm.sh/helm/v3", helmVersion, env)
    fs.renameSync(staging, dir)
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true })
    if (fs.existsSync(binary)) return binary // built by a concurrent run
    const stderr = (error as { stderr?: string }).stderr ?? String(error)
    throw new Error(`building helm ${helmVersion} (go install) failed:\n${stderr.slice(-2000)}`)
  }
  log(`helm ${helmVersion} built in ${((Date.now() - started) / 1000).toFixed(1)}s`)
  return binary
}
