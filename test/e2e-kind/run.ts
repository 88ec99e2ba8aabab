/**
 * The real-cluster end-to-end test, in one command: `npm run test:kind`. Needs Docker, kind, kubectl and helm on
 * PATH and network access to pull images (it is not part of `npm test`: our development machines have no container
 * engine). Every step has an explicit timeout; the first failure stops the run, prints what it was waiting for and
 * the cluster's state, and exits non-zero.
 *
 *  1. a kind cluster (`KIND_CLUSTER`, default convex-operator-e2e; deleted at the end unless `KEEP_CLUSTER=1`);
 *  2. Gateway API CRDs and NGINX Gateway Fabric (GatewayClass `nginx`), pinned versions;
 *  3. the operator image built from this checkout and loaded into the cluster;
 *  4. the operator installed with install.yaml rendered for that image (`npm run build-installer`);
 *  5. test/e2e-kind/instance.yaml (real Convex images pinned to SHA tags) until Ready, then through the Gateway:
 *     `GET /version`, `GET /api/check_admin_key` with the key from `convex-operator admin-key get`, a WebSocket
 *     upgrade on `/api/<client version>/sync`, the dashboard page;
 *  6. an in-place version change (export Job, roll) to Ready on the new version, answering through the Gateway;
 *  7. the instance deleted: its children go, its data PVC stays (deletionPolicy Retain).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parse } from "yaml"

const root = fileURLToPath(new URL("../..", import.meta.url))
const cluster = process.env.KIND_CLUSTER ?? "convex-operator-e2e"
const keepCluster = process.env.KEEP_CLUSTER === "1"
const image = "convex-operator:kind-e2e"
const namespace = "convex-e2e"
const gatewayFabricVersion = "2.4.0"
/** The convex client version the operator image bundles (its sync path). */
const convexClientVersion = (
  JSON.parse(fs.readFileSync(path.join(root, "packages/operator/package.json"), "utf8")) as {
    dependencies: Record<string, string>
  }
).dependencies.convex
/** The backend version the in-place upgrade moves to (newer than instance.yaml's). */
const upgradeVersion = "be8a4f397810ce3d04dc3cb32bc81969fe64685a"

const instanceFile = path.join(root, "test/e2e-kind/instance.yaml")
const instance = parse(fs.readFileSync(instanceFile, "utf8")) as {
  metadata: { name: string }
  spec: { version: string; networking: { host: string; dashboardHost: string } }
}
const name = instance.metadata.name
const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-kind-"))
const kubeconfig = path.join(work, "kubeconfig")
const env = { ...process.env, KUBECONFIG: kubeconfig }
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`

class StepFailed extends Error {}

/** Runs a command to completion within `timeoutSeconds`; its output is returned, or the step fails with it. */
const run = (command: string, args: ReadonlyArray<string>, timeoutSeconds: number, input?: string): string => {
  const result = spawnSync(command, [...args], {
    cwd: root,
    env,
    encoding: "utf8",
    input,
    timeout: timeoutSeconds * 1000,
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["pipe", "pipe", "pipe"]
  })
  if (result.error !== undefined || result.status !== 0) {
    const why = result.error?.message ?? `exit ${result.status ?? result.signal}`
    throw new StepFailed(
      `${command} ${args.join(" ")} failed (${why}, limit ${timeoutSeconds}s):\n${result.stdout ?? ""}${result.stderr ?? ""}`
    )
  }
  return result.stdout
}
const kubectl = (args: ReadonlyArray<string>, timeoutSeconds = 60, input?: string) =>
  run("kubectl", args, timeoutSeconds, input)

const step = async (title: string, body: () => unknown) => {
  const started = Date.now()
  console.log(`▶ ${title}`)
  await body()
  console.log(`✔ ${title} (${seconds(Date.now() - started)})`)
}

/** Polls `probe` every 2 s until it returns a value, or fails after `timeoutSeconds` with the last reason. */
const until = async <A>(
  what: string,
  timeoutSeconds: number,
  probe: () => Promise<A | undefined> | A | undefined
): Promise<A> => {
  const deadline = Date.now() + timeoutSeconds * 1000
  let last = "no answer yet"
  while (Date.now() < deadline) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (error) {
      last = error instanceof Error ? error.message : String(error)
    }
    await new Promise((resolve) => setTimeout(resolve, 2000))
  }
  throw new StepFailed(`timed out after ${timeoutSeconds}s waiting for ${what}: ${last}`)
}

/** Fails loudly, naming what is missing, when a tool this test needs is absent. */
const preflight = () => {
  const missing = ["docker", "kind", "kubectl", "helm"].filter(
    (tool) => spawnSync(tool, ["version"], { stdio: "ignore", timeout: 30_000 }).error !== undefined
  )
  if (missing.length > 0) {
    throw new StepFailed(
      `npm run test:kind cannot run here: ${missing.join(", ")} not found on PATH. It creates a real kind cluster and ` +
        "needs Docker (with a running daemon), kind, kubectl and helm; run it on a machine with Docker or in CI " +
        "(.github/workflows/e2e-kind.yml)."
    )
  }
  const info = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 30_000 })
  if (info.status !== 0) {
    throw new StepFailed(`npm run test:kind needs a running Docker daemon: docker info failed:\n${info.stderr}`)
  }
}

/** A port-forward to the Gateway's Service, for requests with the instance's Host headers. */
let forward: ChildProcess | undefined
const gatewayPort = 18_080 + Math.floor(Math.random() * 1000)
const forwardGateway = async () => {
  const services = JSON.parse(
    kubectl([
      "get",
      "svc",
      "-n",
      namespace,
      "-l",
      `gateway.networking.k8s.io/gateway-name=${name}-gateway`,
      "-o",
      "json"
    ])
  ) as { items: ReadonlyArray<{ metadata: { name: string } }> }
  const service = services.items[0]?.metadata.name
  if (service === undefined) throw new StepFailed(`no Service of Gateway ${name}-gateway in ${namespace}`)
  forward?.kill()
  const child = spawn("kubectl", ["port-forward", "-n", namespace, `svc/${service}`, `${gatewayPort}:80`], { env })
  forward = child
  await until(
    "the port-forward to the Gateway",
    30,
    () =>
      new Promise<true | undefined>((resolve) => {
        const socket = http.get({ host: "127.0.0.1", port: gatewayPort, path: "/", timeout: 2000 }, (response) => {
          response.resume()
          resolve(true)
        })
        socket.on("error", () => resolve(undefined))
      })
  )
}

interface Answer {
  readonly status: number
  readonly body: string
}
/** One request through the Gateway with a Host header. */
const request = (host: string, target: string, headers: Record<string, string> = {}): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const req = http.get(
      { host: "127.0.0.1", port: gatewayPort, path: target, headers: { host, ...headers }, timeout: 10_000 },
      (response) => {
        let body = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => {
          body += chunk
        })
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }))
      }
    )
    req.on("timeout", () => req.destroy(new Error(`GET ${host}${target} timed out`)))
    req.on("error", reject)
  })

/** A WebSocket upgrade through the Gateway; resolves with the status of the answer (101 when upgraded). */
const upgrade = (host: string, target: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = http.request({
      host: "127.0.0.1",
      port: gatewayPort,
      path: target,
      timeout: 10_000,
      headers: {
        host,
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": randomBytes(16).toString("base64")
      }
    })
    req.on("upgrade", (response, socket) => {
      socket.destroy()
      resolve(response.statusCode ?? 0)
    })
    req.on("response", (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
    req.on("timeout", () => req.destroy(new Error(`upgrade ${host}${target} timed out`)))
    req.on("error", reject)
    req.end()
  })

const answers = (host: string, target: string, status: number, timeoutSeconds: number, headers = {}) =>
  until(`GET http://${host}${target} → ${status} through the Gateway`, timeoutSeconds, async () => {
    const answer = await request(host, target, headers)
    if (answer.status !== status) throw new Error(`answered ${answer.status}: ${answer.body.slice(0, 200)}`)
    return answer
  })

const waitReady = (timeoutSeconds: number) =>
  kubectl(
    ["wait", "--for=condition=Ready", `convexinstance/${name}`, "-n", namespace, `--timeout=${timeoutSeconds}s`],
    timeoutSeconds + 10
  )

const diagnostics = () => {
  for (const args of [
    ["get", "cvx,statefulsets,deployments,pods,pvc,jobs,gateways,httproutes,svc", "-n", namespace, "-o", "wide"],
    ["describe", "cvx", name, "-n", namespace],
    ["get", "events", "-n", namespace, "--sort-by=.lastTimestamp"],
    ["logs", "-n", "convex-operator-system", "deployment/convex-operator", "--tail=200"]
  ]) {
    const result = spawnSync("kubectl", args, { env, encoding: "utf8", timeout: 30_000 })
    console.error(`$ kubectl ${args.join(" ")}\n${result.stdout ?? ""}${result.stderr ?? ""}`)
  }
}

const main = async () => {
  const started = Date.now()
  preflight()
  let created = false
  try {
    await step(`kind cluster ${cluster}`, () => {
      run("kind", ["create", "cluster", "--name", cluster, "--wait", "180s"], 300)
      created = true
      fs.writeFileSync(kubeconfig, run("kind", ["get", "kubeconfig", "--name", cluster], 30))
    })
    await step(`Gateway API CRDs and NGINX Gateway Fabric ${gatewayFabricVersion}`, () => {
      const crds = kubectl(
        [
          "kustomize",
          `https://github.com/nginx/nginx-gateway-fabric/config/crd/gateway-api/standard?ref=v${gatewayFabricVersion}`
        ],
        120
      )
      kubectl(["apply", "--server-side", "-f", "-"], 120, crds)
      run(
        "helm",
        [
          "install",
          "ngf",
          "oci://ghcr.io/nginx/charts/nginx-gateway-fabric",
          "--version",
          gatewayFabricVersion,
          "--namespace",
          "nginx-gateway",
          "--create-namespace",
          "--set",
          "nginx.service.type=ClusterIP",
          "--wait",
          "--timeout",
          "300s"
        ],
        330
      )
      kubectl(["wait", "--for=condition=Accepted", "gatewayclass/nginx", "--timeout=120s"], 130)
    })
    await step(`image ${image}: docker build, kind load`, () => {
      run("docker", ["build", "-t", image, "."], 900)
      run("kind", ["load", "docker-image", image, "--name", cluster], 300)
    })
    await step("install the operator with install.yaml", () => {
      const bundle = path.join(work, "install.yaml")
      run("npm", ["run", "build-installer", "--", "--image", image, "--output", bundle], 120)
      kubectl(["apply", "--server-side", "-f", bundle], 120)
      kubectl(
        ["rollout", "status", "deployment/convex-operator", "-n", "convex-operator-system", "--timeout=180s"],
        190
      )
    })
    await step(`ConvexInstance ${name} (${instance.spec.version.slice(0, 12)}) Ready`, () => {
      kubectl(["create", "namespace", namespace])
      kubectl(["apply", "-n", namespace, "-f", instanceFile])
      // Pulling the Convex images and the backend's first start (migrations) take minutes.
      waitReady(900)
    })
    const { host, dashboardHost } = instance.spec.networking
    await step("through the Gateway: /version, check_admin_key, WebSocket sync, dashboard", async () => {
      await forwardGateway()
      await answers(host, "/version", 200, 180)
      const adminKey = run(
        "node",
        [
          "--import",
          "tsx",
          "--conditions=@convex-operator/source",
          "packages/operator/src/main.ts",
          "admin-key",
          "get",
          name,
          "-n",
          namespace,
          "--kubeconfig",
          kubeconfig
        ],
        60
      ).trim()
      await answers(host, "/api/check_admin_key", 200, 60, { authorization: `Convex ${adminKey}` })
      const rejected = await request(host, "/api/check_admin_key", { authorization: "Convex not-a-key" })
      if (rejected.status === 200) throw new StepFailed("check_admin_key accepted an invalid key")
      const status = await upgrade(host, `/api/${convexClientVersion}/sync`)
      if (status !== 101) throw new StepFailed(`the sync WebSocket upgrade answered ${status}, not 101`)
      const dashboard = await answers(dashboardHost, "/", 200, 180)
      if (!/<html/i.test(dashboard.body)) throw new StepFailed("the dashboard answered 200 without an HTML page")
    })
    await step(`in-place version change to ${upgradeVersion.slice(0, 12)}`, async () => {
      kubectl([
        "patch",
        "cvx",
        name,
        "-n",
        namespace,
        "--type=merge",
        "-p",
        JSON.stringify({ spec: { version: upgradeVersion } })
      ])
      await until("the upgrade to start", 120, () => {
        const phase = kubectl(["get", "cvx", name, "-n", namespace, "-o", "jsonpath={.status.phase}"])
        return phase === "Upgrading" ? true : undefined
      })
      await until(`status.currentVersion ${upgradeVersion}`, 900, () => {
        const current = kubectl(["get", "cvx", name, "-n", namespace, "-o", "jsonpath={.status.currentVersion}"])
        return current === upgradeVersion ? true : undefined
      })
      waitReady(300)
      await forwardGateway()
      await answers(host, "/version", 200, 180)
    })
    await step("delete the instance: children gone, data PVC kept", async () => {
      kubectl(["delete", "cvx", name, "-n", namespace, "--timeout=300s"], 310)
      await until("the backend StatefulSet to be gone", 180, () =>
        spawnSync("kubectl", ["get", "statefulset", `${name}-backend`, "-n", namespace], { env }).status !== 0
          ? true
          : undefined
      )
      kubectl(["get", "pvc", `${name}-backend-pvc`, "-n", namespace])
    })
    console.log(`kind e2e passed in ${seconds(Date.now() - started)}`)
  } catch (error) {
    if (created) diagnostics()
    throw error
  } finally {
    forward?.kill()
    if (created && !keepCluster)
      spawnSync("kind", ["delete", "cluster", "--name", cluster], { stdio: "inherit", timeout: 180_000 })
    fs.rmSync(work, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  console.error(`✘ ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
})
