/**
 * Envoy Gateway's control plane against a local test cluster, as its Helm chart would run it, minus the chart:
 *
 * 1. its CRDs (gateway.envoyproxy.io) and the `envoy-gateway-system` namespace;
 * 2. `envoy-gateway certgen` on the host (admin kubeconfig): the control plane's Secrets in that namespace;
 * 3. `envoy-gateway server` in a podman container: the server reads its TLS files from the fixed absolute folder
 *    `/certs` (never written on the host), so the `envoy-gateway` Secret's files are mounted there, read-only, with
 *    the static binary, its config and the admin kubeconfig. The image is the node base of the image tier (any root
 *    filesystem would do: the binary is static).
 *
 * The container has a network namespace of its own (slirp4netns), so Envoy Gateway's fixed ports (health 8081,
 * webhook 9443, xDS 18000, admin 19000) are its own and two runs on one machine do not collide; slirp4netns's
 * `allow_host_loopback` lets it reach the apiserver on the host's 127.0.0.1 as 10.0.2.2 (the kubeconfig names
 * `localhost`, a name the apiserver's certificate holds, as the TLS server name).
 *
 * The envoy Deployments it creates get pods from kwok (no Envoy proxy runs, so no traffic is judged, only the
 * Gateway API statuses Envoy Gateway writes).
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { ensureEnvoyGateway, envoyGatewayVersion } from "../../cluster/envoy-gateway.js"
import { ensureNodeBase } from "../../image/node-base.js"
import { podman, podmanOk, requireContainerTools } from "../../image/podman.js"
import { eventually, type Kubectl } from "./kube.js"

export const envoyGatewayNamespace = "envoy-gateway-system"
export const envoyGatewayControllerName = "gateway.envoyproxy.io/gatewayclass-controller"

/** Envoy Gateway's configuration (an `EnvoyGateway` object): Kubernetes provider, nothing optional running. */
const serverConfig = `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyGateway
gateway:
  controllerName: ${envoyGatewayControllerName}
provider:
  type: Kubernetes
  kubernetes:
    proxyTopologyInjector:
      disabled: true
logging:
  level:
    default: info
admin:
  address:
    host: 127.0.0.1
telemetry:
  metrics:
    prometheus:
      disable: true
`

/** The admin kubeconfig as seen from the container: the host's 127.0.0.1 is 10.0.2.2 there. */
const containerKubeconfig = (kubeconfig: string): string => {
  const server = /^([ \t]*)server: https:\/\/127\.0\.0\.1:(\d+)[ \t]*$/m
  if (!server.test(kubeconfig)) throw new Error("the cluster's kubeconfig names no https://127.0.0.1:<port> server")
  return kubeconfig.replace(server, "$1server: https://10.0.2.2:$2\n$1tls-server-name: localhost")
}

export interface EnvoyGatewayProcess {
  /** The last lines of the server's log. */
  readonly logTail: (lines?: number) => Promise<string>
  /** Stops and removes the container. */
  readonly stop: () => Promise<void>
}

/**
 * Starts Envoy Gateway against the cluster `kubectl` talks to (`kubeconfig` is its admin kubeconfig) and resolves
 * once its server is up (the leader lease is held). Fails with the reason when podman or the build is missing.
 */
export const startEnvoyGateway = async (options: {
  readonly kubectl: Kubectl
  readonly kubeconfig: string
  readonly work: string
  readonly log?: (line: string) => void
}): Promise<EnvoyGatewayProcess> => {
  const log = options.log ?? ((line: string) => console.log(`[envoy-gateway] ${line}`))
  try {
    requireContainerTools()
  } catch (error) {
    throw new Error(`Envoy Gateway runs in a podman container: ${error instanceof Error ? error.message : error}`)
  }
  const [build, base] = await Promise.all([ensureEnvoyGateway(log), ensureNodeBase(log)])
  const { kubectl } = options
  for (const file of build.crds) kubectl(["apply", "--server-side", "--field-manager=e2e", "-f", file])
  kubectl(["wait", "--for=condition=Established", "--timeout=60s", "-f", path.dirname(build.crds[0] as string)])
  kubectl(
    ["apply", "--server-side", "--field-manager=e2e", "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: envoyGatewayNamespace } })
  )

  // certgen on the host: it only writes Secrets through the apiserver (no files, no /certs).
  const dir = path.join(options.work, "envoy-gateway")
  fs.mkdirSync(path.join(dir, "certs"), { recursive: true })
  try {
    await promisify(execFile)(build.binary, ["certgen", "--disable-topology-injector"], {
      env: { ...process.env, KUBECONFIG: options.kubeconfig },
      timeout: 60_000
    })
  } catch (error) {
    const output = `${(error as { stdout?: string }).stdout ?? ""}${(error as { stderr?: string }).stderr ?? ""}`
    throw new Error(`envoy-gateway certgen failed: ${String(error)}\n${output.slice(-2000)}`)
  }
  const secret = kubectl.json<{ data: Record<string, string> }>([
    "secret",
    "envoy-gateway",
    "-n",
    envoyGatewayNamespace
  ])
  if (secret === undefined) throw new Error("envoy-gateway certgen wrote no envoy-gateway Secret")
  for (const key of ["ca.crt", "tls.crt", "tls.key"]) {
    const value = secret.data[key]
    if (value === undefined) throw new Error(`the envoy-gateway Secret has no ${key}`)
    fs.writeFileSync(path.join(dir, "certs", key), Buffer.from(value, "base64"), { mode: 0o600 })
  }
  fs.writeFileSync(path.join(dir, "envoy-gateway.yaml"), serverConfig)
  fs.writeFileSync(path.join(dir, "kubeconfig"), containerKubeconfig(fs.readFileSync(options.kubeconfig, "utf8")), {
    mode: 0o600
  })

  const name = `convex-operator-e2e-envoy-gateway-${process.pid}`
  await podman(["rm", "--force", "--ignore", name])
  await podmanOk([
    "run",
    "--detach",
    `--name=${name}`,
    "--network=slirp4netns:allow_host_loopback=true",
    `--volume=${build.binary}:/usr/local/bin/envoy-gateway:ro`,
    `--volume=${path.join(dir, "certs")}:/certs:ro`,
    `--volume=${path.join(dir, "envoy-gateway.yaml")}:/config/envoy-gateway.yaml:ro`,
    `--volume=${path.join(dir, "kubeconfig")}:/config/kubeconfig:ro`,
    "--env=KUBECONFIG=/config/kubeconfig",
    `--env=ENVOY_GATEWAY_NAMESPACE=${envoyGatewayNamespace}`,
    "--entrypoint=/usr/local/bin/envoy-gateway",
    base.image,
    "server",
    "--config-path=/config/envoy-gateway.yaml"
  ])
  const logTail = async (lines = 40) => {
    const result = await podman(["logs", "--tail", String(lines), name])
    return `${result.stdout}${result.stderr}`
  }
  const stop = async () => {
    await podman(["stop", "--time=10", name], { timeoutMillis: 60_000 })
    await podman(["rm", "--force", "--ignore", name])
  }
  try {
    // Up once it leads: its Lease in its namespace names a holder (it reconciles nothing before that).
    await eventually(
      `Envoy Gateway ${envoyGatewayVersion} holding its leader lease`,
      async () => {
        const state = (await podman(["inspect", "--format", "{{.State.Running}}", name])).stdout.trim()
        if (state !== "true") throw new Error(`the container is not running:\n${await logTail()}`)
        const leases = kubectl.json<{ items: ReadonlyArray<{ spec?: { holderIdentity?: string } }> }>([
          "leases",
          "-n",
          envoyGatewayNamespace
        ])
        return leases?.items.some((lease) => (lease.spec?.holderIdentity ?? "") !== "") === true ? true : undefined
      },
      { timeoutMillis: 90_000, intervalMillis: 1000 }
    )
  } catch (error) {
    const tail = await logTail()
    await stop()
    throw new Error(`Envoy Gateway did not come up: ${String(error)}\nits log:\n${tail}`)
  }
  return { logTail, stop }
}
