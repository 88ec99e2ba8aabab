/**
 * `npm start`: run the operator against the current kubeconfig, or, when there is none (or it does not answer),
 * on a full local cluster started here (the Go-built control plane of test/cluster) until Ctrl-C.
 *
 * Either way the ConvexInstance CRD is applied first (server-side, so it updates an older one). On the local
 * cluster the hello-world sample is applied too, and its progress is shown until it is Ready.
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { crdFiles } from "@convex-operator/core"
import { Cause, Duration, Effect, Exit, Fiber, Option } from "effect"
import { parse } from "yaml"
import { ensureAssets } from "../test/cluster/build.js"
import { defaultLog } from "../test/cluster/exec.js"
import { LocalCluster, type LocalClusterInfo } from "../test/cluster/local-cluster.js"
import type { KubeObject } from "../test/cluster/objects.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const crdFilePaths = crdFiles.map((file) => path.join(root, file.path))
const operatorMain = path.join(root, "packages/operator/src/main.ts")
/** The `run` command lands with the reconciler; until then `npm start` prepares the cluster and says so. */
const operatorRun = path.join(root, "packages/operator/src/cli/run.ts")

/** The kubeconfig kubectl would use, when that file exists. */
const currentKubeconfig = (): string | undefined => {
  const candidates = (process.env.KUBECONFIG ?? path.join(os.homedir(), ".kube", "config"))
    .split(path.delimiter)
    .filter((file) => file !== "" && fs.existsSync(file))
  return candidates.length > 0 ? candidates.join(path.delimiter) : undefined
}

const answers = (kubectl: string, kubeconfig: string): boolean => {
  try {
    execFileSync(kubectl, ["--kubeconfig", kubeconfig, "--request-timeout=5s", "version", "-o", "json"], {
      stdio: "ignore"
    })
    return true
  } catch {
    return false
  }
}

/** Runs the operator process until it exits; resolves to its exit code. */
const runOperator = (kubeconfig: string) =>
  Effect.async<number>((resume) => {
    if (!fs.existsSync(operatorRun)) {
      defaultLog("the operator app (packages/operator) is not built yet: the cluster and CRD are ready for it")
      return
    }
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--conditions=@convex-operator/source",
        operatorMain,
        "run",
        "--kubeconfig",
        kubeconfig,
        // Loopback and free ports: npm start must not collide with anything already listening.
        "--metrics-bind-address=127.0.0.1:0",
        "--health-probe-bind-address=127.0.0.1:0",
        "--log-format=text"
      ],
      { stdio: "inherit" }
    )
    child.on("exit", (code) => resume(Effect.succeed(code ?? 1)))
    return Effect.sync(() => child.kill("SIGTERM"))
  })

const helloWorld = path.join(root, "examples/hello-world.yaml")

interface InstanceStatus {
  readonly phase?: string
  readonly conditions?: ReadonlyArray<{ type: string; status: string; reason: string; message: string }>
}

/** Applies the hello-world sample and prints each change of its progress until it is Ready. */
const showHelloWorld = (cluster: LocalClusterInfo) =>
  Effect.gen(function* () {
    const instance = parse(fs.readFileSync(helloWorld, "utf8")) as KubeObject
    const name = instance.metadata.name ?? "hello"
    const namespace = "default"
    yield* cluster.objects.apply({ ...instance, metadata: { ...instance.metadata, namespace } })
    defaultLog(`applied examples/hello-world.yaml: ConvexInstance ${namespace}/${name}`)
    const started = Date.now()
    let last = ""
    for (;;) {
      const object = yield* cluster.objects
        .get({ apiVersion: instance.apiVersion, kind: instance.kind, namespace }, name)
        .pipe(Effect.option)
      const status = (Option.getOrUndefined(object)?.status ?? {}) as InstanceStatus
      const ready = status.conditions?.find((condition) => condition.type === "Ready")
      const line =
        ready === undefined
          ? "waiting for the operator"
          : `${status.phase ?? "Pending"}: Ready=${ready.status} ${ready.reason}: ${ready.message}`
      if (line !== last) {
        defaultLog(`${name} (${((Date.now() - started) / 1000).toFixed(1)}s) ${line}`)
        last = line
      }
      if (ready?.status === "True") break
      yield* Effect.sleep(Duration.millis(500))
    }
    const kubectl = `KUBECONFIG=${cluster.kubeconfigPath} ${cluster.kubectl}`
    console.log(`
  ConvexInstance ${namespace}/${name} is Ready in ${((Date.now() - started) / 1000).toFixed(1)}s. Inspect it with
    ${kubectl} get cvx,statefulsets,deployments,services,pods
    ${kubectl} describe cvx ${name}
  Ctrl-C stops the operator and the cluster.
`)
  }).pipe(
    Effect.catchAll((error) => Effect.sync(() => defaultLog(`hello-world: ${String(error)}`))),
    Effect.forkScoped
  )

const program = Effect.gen(function* () {
  const assets = yield* ensureAssets()
  const kubectl = path.join(assets.binDir, "kubectl")
  const existing = currentKubeconfig()
  if (existing !== undefined && answers(kubectl, existing)) {
    defaultLog(`using the current kubeconfig (${existing})`)
    execFileSync(
      kubectl,
      ["--kubeconfig", existing, "apply", "--server-side", ...crdFilePaths.flatMap((file) => ["-f", file])],
      { stdio: "inherit" }
    )
    return yield* runOperator(existing)
  }
  defaultLog(existing === undefined ? "no kubeconfig found" : `the cluster of ${existing} does not answer`)
  defaultLog("starting a local cluster (etcd, apiserver, controllers, scheduler, kwok) on 127.0.0.1")
  const cluster = yield* LocalCluster.start({ components: "full", gatewayApi: true, crds: crdFilePaths })
  console.log(`
  kubeconfig  ${cluster.kubeconfigPath}
  kubectl     KUBECONFIG=${cluster.kubeconfigPath} ${cluster.kubectl} get cvx
  Ctrl-C stops the operator and the cluster.
`)
  if (fs.existsSync(operatorRun)) yield* showHelloWorld(cluster)
  return yield* runOperator(cluster.kubeconfigPath)
}).pipe(Effect.scoped)

const fiber = Effect.runFork(program)
const stop = (signal: NodeJS.Signals) => {
  defaultLog(`${signal}: stopping …`)
  Effect.runFork(Fiber.interrupt(fiber))
}
process.on("SIGINT", () => stop("SIGINT"))
process.on("SIGTERM", () => stop("SIGTERM"))
fiber.addObserver((exit) => {
  if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
    console.error(Cause.pretty(exit.cause))
    process.exit(1)
  }
  process.exit(Exit.isSuccess(exit) ? exit.value : 0)
})
