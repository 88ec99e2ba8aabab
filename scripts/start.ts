/**
 * `npm start`: run the operator against the current kubeconfig, or, when there is none (or it does not answer),
 * on a full local cluster started here (the Go-built control plane of test/cluster) until Ctrl-C.
 *
 * Either way the ConvexInstance CRD is applied first (server-side, so it updates an older one).
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { convexInstanceCrdPath } from "@convex-operator/core"
import { Cause, Effect, Exit, Fiber } from "effect"
import { ensureAssets } from "../test/cluster/build.js"
import { defaultLog } from "../test/cluster/exec.js"
import { LocalCluster } from "../test/cluster/local-cluster.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const crd = path.join(root, convexInstanceCrdPath)
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
      ["--import", "tsx", "--conditions=source", operatorMain, "run", "--kubeconfig", kubeconfig],
      { stdio: "inherit" }
    )
    child.on("exit", (code) => resume(Effect.succeed(code ?? 1)))
    return Effect.sync(() => child.kill("SIGTERM"))
  })

const program = Effect.gen(function* () {
  const assets = yield* ensureAssets()
  const kubectl = path.join(assets.binDir, "kubectl")
  const existing = currentKubeconfig()
  if (existing !== undefined && answers(kubectl, existing)) {
    defaultLog(`using the current kubeconfig (${existing})`)
    execFileSync(kubectl, ["--kubeconfig", existing, "apply", "--server-side", "-f", crd], { stdio: "inherit" })
    return yield* runOperator(existing)
  }
  defaultLog(existing === undefined ? "no kubeconfig found" : `the cluster of ${existing} does not answer`)
  defaultLog("starting a local cluster (etcd, apiserver, controllers, scheduler, kwok) on 127.0.0.1")
  const cluster = yield* LocalCluster.start({ components: "full", gatewayApi: true, crds: [crd] })
  console.log(`
  kubeconfig  ${cluster.kubeconfigPath}
  try         KUBECONFIG=${cluster.kubeconfigPath} ${cluster.kubectl} apply -f examples/hello-world.yaml
  Ctrl-C stops the operator and the cluster.
`)
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
