/**
 * The operator as a separate process, the way it runs in a cluster: `node --import tsx --conditions=@convex-operator/source
 * packages/operator/src/main.ts run …` against the test cluster's kubeconfig, metrics and probes on free loopback
 * ports, logs captured for failure messages.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { repoRoot } from "../../support/manifests.js"

export interface OperatorProcess {
  readonly metricsUrl: string
  readonly probesUrl: string
  readonly logFile: string
  /** The last lines the operator logged. */
  readonly logTail: (lines?: number) => string
  /** SIGTERM, then wait for the exit (SIGKILL after `graceMillis`); resolves to the exit code. */
  readonly stop: (graceMillis?: number) => Promise<number | null>
}

const freePort = async (): Promise<number> => {
  const net = await import("node:net")
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

const waitForReady = async (url: string, child: ChildProcess, logTail: () => string, timeoutMillis: number) => {
  const deadline = Date.now() + timeoutMillis
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the operator exited with ${child.exitCode}:\n${logTail()}`)
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) })
      if (response.ok) return
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`the operator was not ready within ${timeoutMillis} ms:\n${logTail()}`)
}

/** Starts the operator with `args` after `run`; resolves once `/readyz` answers 200 (caches synced). */
export const startOperator = async (options: {
  readonly kubeconfig: string
  readonly logDir: string
  readonly args?: ReadonlyArray<string>
}): Promise<OperatorProcess> => {
  const [metricsPort, probesPort] = [await freePort(), await freePort()]
  const logFile = path.join(options.logDir, `operator-${Date.now()}.log`)
  const out = fs.openSync(logFile, "a")
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "--conditions=@convex-operator/source",
      path.join(repoRoot, "packages/operator/src/main.ts"),
      "run",
      "--kubeconfig",
      options.kubeconfig,
      `--metrics-bind-address=127.0.0.1:${metricsPort}`,
      `--health-probe-bind-address=127.0.0.1:${probesPort}`,
      "--log-format=json",
      "--log-level=debug",
      ...(options.args ?? [])
    ],
    { cwd: repoRoot, stdio: ["ignore", out, out], env: { ...process.env, KUBECONFIG: options.kubeconfig } }
  )
  const logTail = (lines = 40) => {
    try {
      return fs.readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n")
    } catch {
      return "(no log)"
    }
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const probesUrl = `http://127.0.0.1:${probesPort}`
  try {
    await waitForReady(`${probesUrl}/readyz`, child, logTail, 60_000)
  } catch (error) {
    child.kill("SIGKILL")
    throw error
  }
  return {
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    probesUrl,
    logFile,
    logTail,
    stop: async (graceMillis = 20_000) => {
      if (child.exitCode !== null) return child.exitCode
      child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMillis)
      const code = await exited
      clearTimeout(timer)
      fs.closeSync(out)
      return code
    }
  }
}
