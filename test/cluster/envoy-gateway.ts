/**
 * Envoy Gateway, the Gateway API implementation the e2e tier judges our routes with, built from its Go module like
 * helm (../image/helm.ts): `go install github.com/envoyproxy/gateway/cmd/envoy-gateway@<pinned>` into
 * `<cache>/envoy-gateway-<version>/envoy-gateway` once, with the module's own CRDs (its `EnvoyProxy` and policy
 * kinds, from `charts/gateway-helm/charts/crds/crds/generated/`) copied beside it. `ENVOY_GATEWAY` names a folder
 * holding both (`envoy-gateway` and `crds/`) to use instead.
 *
 * Its go.mod asks for Go 1.26.7 (go-toolchain.ts's minimumGo). The Gateway API CRDs stay the cluster's own pinned
 * standard channel (versions.ts); Envoy Gateway runs against them.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { checkBuiltGoLine, requireGo } from "./go-toolchain.js"
import { cacheRoot } from "./versions.js"

export const envoyGatewayVersion = "v1.9.1"
const envoyGatewayModule = "github.com/envoyproxy/gateway"
const crdFolder = "charts/gateway-helm/charts/crds/crds/generated"

export interface EnvoyGatewayBuild {
  /** The static `envoy-gateway` binary. */
  readonly binary: string
  /** Envoy Gateway's own CRD files (gateway.envoyproxy.io). */
  readonly crds: ReadonlyArray<string>
}

const inFolder = (dir: string): EnvoyGatewayBuild | undefined => {
  const binary = path.join(dir, "envoy-gateway")
  const crdDir = path.join(dir, "crds")
  if (!fs.existsSync(binary) || !fs.existsSync(crdDir)) return undefined
  const crds = fs
    .readdirSync(crdDir)
    .filter((name) => name.endsWith(".yaml"))
    .sort()
    .map((name) => path.join(crdDir, name))
  return crds.length > 0 ? { binary, crds } : undefined
}

/** The binary and CRDs: `$ENVOY_GATEWAY`, else the cached build (built now when missing; cold: minutes). */
export const ensureEnvoyGateway = async (
  log: (line: string) => void = (line) => console.log(`[envoy-gateway] ${line}`)
): Promise<EnvoyGatewayBuild> => {
  const given = process.env.ENVOY_GATEWAY
  if (given !== undefined && given !== "") {
    const found = inFolder(given)
    if (found === undefined) throw new Error(`ENVOY_GATEWAY=${given} holds no envoy-gateway binary and crds/ folder`)
    return found
  }
  const dir = path.join(cacheRoot(), `envoy-gateway-${envoyGatewayVersion}`)
  const cached = inFolder(dir)
  if (cached !== undefined) return cached
  requireGo(`Envoy Gateway ${envoyGatewayVersion}`)
  const staging = `${dir}.partial-${process.pid}`
  fs.rmSync(staging, { recursive: true, force: true })
  fs.mkdirSync(path.join(staging, "crds"), { recursive: true })
  const env = { ...process.env, GOBIN: staging, CGO_ENABLED: "0", GOTOOLCHAIN: "local", GOWORK: "off" }
  const go = (args: ReadonlyArray<string>) => promisify(execFile)("go", args, { env, timeout: 3_600_000 })
  const started = Date.now()
  log(`building Envoy Gateway ${envoyGatewayVersion} into ${dir} (a cold build takes minutes)`)
  // Asynchronous, with a heartbeat: a blocked vitest worker loses its RPC, and a silent build looks hung.
  const heartbeat = setInterval(
    () => log(`still building Envoy Gateway (${((Date.now() - started) / 1000).toFixed(0)}s)`),
    60_000
  )
  try {
    const ldflags = `-s -w -X ${envoyGatewayModule}/internal/cmd/version.envoyGatewayVersion=${envoyGatewayVersion}`
    await go([
      "install",
      "-trimpath",
      "-ldflags",
      ldflags,
      `${envoyGatewayModule}/cmd/envoy-gateway@${envoyGatewayVersion}`
    ])
    // Before the binary enters the cache: its go.mod must have the go line go-toolchain.ts's table says.
    checkBuiltGoLine(envoyGatewayModule, envoyGatewayVersion, env)
    const { stdout } = await go(["mod", "download", "-json", `${envoyGatewayModule}@${envoyGatewayVersion}`])
    const moduleDir = (JSON.parse(stdout) as { Dir: string }).Dir
    for (const name of fs.readdirSync(path.join(moduleDir, crdFolder))) {
      if (name.endsWith(".yaml"))
        fs.copyFileSync(path.join(moduleDir, crdFolder, name), path.join(staging, "crds", name))
    }
    fs.rmSync(dir, { recursive: true, force: true })
    fs.renameSync(staging, dir)
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true })
    const built = inFolder(dir)
    if (built !== undefined) return built // built by a concurrent run
    const stderr = (error as { stderr?: string }).stderr ?? String(error)
    throw new Error(`building Envoy Gateway ${envoyGatewayVersion} failed:\n${stderr.slice(-2000)}`)
  } finally {
    clearInterval(heartbeat)
  }
  log(`Envoy Gateway ${envoyGatewayVersion} built in ${((Date.now() - started) / 1000).toFixed(1)}s`)
  const built = inFolder(dir)
  if (built === undefined) throw new Error(`Envoy Gateway build left no binary and CRDs in ${dir}`)
  return built
}
