/**
 * `npm run cluster`: builds the binaries if needed, starts a full local cluster (kwok node included)
 * with the Gateway API and ConvexInstance CRDs, prints how to reach it, and stops it on Ctrl-C/SIGTERM.
 *
 *   npm run cluster                     full cluster + CRDs
 *   npm run cluster -- --apiserver      etcd + kube-apiserver only
 *   npm run cluster -- --no-crds        install no CRDs
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Cause, Effect, Exit, Fiber } from "effect"
import { defaultLog } from "./exec.js"
import { LocalCluster } from "./local-cluster.js"
import { installCrds } from "./manifests.js"

const args = new Set(process.argv.slice(2))
const unknown = [...args].filter((arg) => !["--apiserver", "--no-crds"].includes(arg))
if (unknown.length > 0) {
  console.error(`unknown arguments: ${unknown.join(" ")}\nusage: npm run cluster [-- --apiserver] [--no-crds]`)
  process.exit(2)
}

const crdDir = fileURLToPath(new URL("../../config/crd/bases/", import.meta.url))
const projectCrds = fs.existsSync(crdDir)
  ? fs
      .readdirSync(crdDir)
      .filter((file) => file.endsWith(".yaml"))
      .map((file) => path.join(crdDir, file))
  : []
const withCrds = !args.has("--no-crds")

const program = Effect.gen(function* () {
  const cluster = yield* LocalCluster.start({
    components: args.has("--apiserver") ? "apiserver" : "full",
    gatewayApi: withCrds
  })
  // The project's own CRDs are work in progress: a rejected one is reported, not fatal.
  const projectInstalled = yield* installCrds(cluster.objects, withCrds ? projectCrds : []).pipe(
    Effect.catchAll((error) =>
      Effect.sync(() => {
        defaultLog(`WARNING: could not install the project CRDs: ${error.message}`)
        return []
      })
    )
  )
  const crds = [...cluster.installedCrds, ...projectInstalled]
  const kubectl = cluster.kubectl
  console.log(`
  server      ${cluster.server}
  kubeconfig  ${cluster.kubeconfigPath}
  logs        ${cluster.logsDir}
  CRDs        ${crds.length === 0 ? "(none)" : crds.join(", ")}

  KUBECONFIG=${cluster.kubeconfigPath} ${kubectl} get nodes
  or: export KUBECONFIG=${cluster.kubeconfigPath} PATH=${path.dirname(kubectl)}:$PATH

  Ctrl-C stops the cluster and deletes its folder.
`)
  return yield* Effect.never
}).pipe(Effect.scoped)

const fiber = Effect.runFork(program)
let stopping: number | undefined
const stop = (signal: NodeJS.Signals) => {
  // A terminal's Ctrl-C reaches this process twice under tsx (once from the terminal, once relayed by tsx's
  // parent process): only a second signal a while after the first means "exit now".
  if (stopping !== undefined && Date.now() - stopping < 2000) return
  if (stopping !== undefined) {
    defaultLog(`${signal} again: exiting now (a reaper process kills what is left)`)
    process.exit(130)
  }
  stopping = Date.now()
  defaultLog(`${signal}: stopping the cluster …`)
  Effect.runFork(Fiber.interrupt(fiber))
}
process.on("SIGINT", () => stop("SIGINT"))
process.on("SIGTERM", () => stop("SIGTERM"))

fiber.addObserver((exit) => {
  if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
    console.error(exit.cause.toString())
    process.exit(1)
  }
  defaultLog("stopped")
  process.exit(0)
})
