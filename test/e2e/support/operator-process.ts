/**
 * The operator as a separate process, the way it runs in a cluster: `node --import tsx --conditions=@convex-operator/source
 * packages/operator/src/main.ts run …` against the test cluster's kubeconfig, metrics and probes on free loopback
 * ports, logs captured for failure messages.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { bundleOperator as bundleFrom, operatorNodeOptions } from "../../../scripts/bundle-operator.js"
import { repoRoot } from "../../support/manifests.js"

export interface OperatorProcess {
  readonly metricsUrl: string
  readonly probesUrl: string
  readonly logFile: string
  /** The last lines the operator logged. */
  readonly logTail: (lines?: number) => string
  /** SIGTERM, then wait for the exit (SIGKILL after `graceMillis`); resolves to the exit code. */
  readonly stop: (graceMillis?: number) => Promise<number | null>
  readonly pid: number
  /** Sends `signal` (SIGKILL, SIGSTOP, SIGCONT, …) without waiting. */
  readonly signal: (signal: NodeJS.Signals) => void
  /** SIGKILL, resolving once the process is gone (for crash tests). */
  readonly kill: () => Promise<void>
  /** Whether the process is still running. */
  readonly running: () => boolean
  /**
   * How the process ended, undefined while it runs: its exit code, or the signal that ended it (`code` null), and
   * whether that signal was this handle's `kill()` (a crash the test caused, not one of the operator's own; `stop`
   * sends SIGKILL only to a process that outlived its grace period, so a SIGKILL without `killed` is a hang).
   */
  readonly exit: () => OperatorExit | undefined
}

export interface OperatorExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly killed: boolean
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

/**
 * Bundles the operator's sources into `dir` as the image does (scripts/bundle-operator.ts) and returns the entry.
 * Under load tsx needs several seconds to start the operator from source and a bundle about one, which matters to
 * tests that restart it often; and the benchmark then measures what ships. The bundle is built from the current
 * sources every time (of the checkout CONVEX_OPERATOR_SOURCE names, if set: its node_modules may be a link to this
 * one's).
 */
export const bundleOperator = async (dir: string): Promise<string> => {
  // CONVEX_OPERATOR_SOURCE: another checkout to bundle from (to run a fault test against an older operator).
  const root = process.env.CONVEX_OPERATOR_SOURCE ?? repoRoot
  // The operator reads its version from ../package.json beside its module, as from src/ and dist/.
  fs.copyFileSync(path.join(root, "packages/operator/package.json"), path.join(dir, "package.json"))
  return bundleFrom(path.join(dir, "bundle"), root)
}

/** Starts the operator with `args` after `run`; resolves once `/readyz` answers 200 (caches synced). */
export const startOperator = async (options: {
  readonly kubeconfig: string
  readonly logDir: string
  readonly args?: ReadonlyArray<string>
  /** A bundle from {@link bundleOperator} to run instead of the sources through tsx. */
  readonly bundle?: string
  /** Default debug (the e2e tests read the log); a benchmark logs less. */
  readonly logLevel?: "debug" | "info"
  /** Extra environment (POD_NAME names a leader-election candidate). */
  readonly env?: NodeJS.ProcessEnv
  /**
   * Options for Node itself (a benchmark's `--cpu-prof`, which NODE_OPTIONS may not carry); a bundle runs with the
   * image's options (`operatorNodeOptions`) first, so these can override them.
   */
  readonly nodeArgs?: ReadonlyArray<string>
  /** Resolve without waiting for `/readyz` (a standby replica under leader election is not ready). */
  readonly waitReady?: boolean
}): Promise<OperatorProcess> => {
  // The ports are picked free, then bound by the operator a moment later; another process (a test cluster's
  // component, an outgoing connection's local port) can take one in between. The operator then exits at once with
  // EADDRINUSE: try again on new ports (a harness race, not an operator failure; any other exit still fails).
  const launch = async () => {
    const [metricsPort, probesPort] = [await freePort(), await freePort()]
    const logFile = path.join(options.logDir, `operator-${Date.now()}.log`)
    const out = fs.openSync(logFile, "a")
    const child = spawn(
      process.execPath,
      [
        ...(options.bundle === undefined ? [] : operatorNodeOptions),
        ...(options.nodeArgs ?? []),
        ...(options.bundle === undefined
          ? [
              "--import",
              "tsx",
              "--conditions=@convex-operator/source",
              path.join(repoRoot, "packages/operator/src/main.ts")
            ]
          : [options.bundle]),
        "run",
        "--kubeconfig",
        options.kubeconfig,
        `--metrics-bind-address=127.0.0.1:${metricsPort}`,
        `--health-probe-bind-address=127.0.0.1:${probesPort}`,
        "--log-format=json",
        `--log-level=${options.logLevel ?? "debug"}`,
        ...(options.args ?? [])
      ],
      {
        cwd: repoRoot,
        stdio: ["ignore", out, out],
        env: { ...process.env, ...options.env, KUBECONFIG: options.kubeconfig }
      }
    )
    const logTail = (lines = 40) => {
      try {
        return fs.readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n")
      } catch {
        return "(no log)"
      }
    }
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    return { metricsPort, probesPort, logFile, out, child, logTail, exited }
  }
  let launched = await launch()
  for (let attempt = 1; ; attempt++) {
    const probesUrl = `http://127.0.0.1:${launched.probesPort}`
    const readyUrl = options.waitReady === false ? `${probesUrl}/healthz` : `${probesUrl}/readyz`
    try {
      await waitForReady(readyUrl, launched.child, launched.logTail, 60_000)
      break
    } catch (error) {
      launched.child.kill("SIGKILL")
      const portTaken = launched.child.exitCode !== null && launched.logTail().includes("EADDRINUSE")
      if (!portTaken || attempt >= 3) throw error
      await launched.exited
      fs.closeSync(launched.out)
      launched = await launch()
    }
  }
  const { metricsPort, probesPort, logFile, out, child, logTail, exited } = launched
  const probesUrl = `http://127.0.0.1:${probesPort}`
  let killed = false
  const closeLog = () => {
    try {
      fs.closeSync(out)
    } catch {
      // closed already
    }
  }
  return {
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    probesUrl,
    logFile,
    logTail,
    stop: async (graceMillis = 20_000) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        closeLog()
        return child.exitCode
      }
      child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMillis)
      const code = await exited
      clearTimeout(timer)
      closeLog()
      return code
    },
    pid: child.pid ?? 0,
    signal: (signal) => void child.kill(signal),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        killed = true
        child.kill("SIGKILL")
        await exited
      }
      closeLog()
    },
    running: () => child.exitCode === null && child.signalCode === null,
    exit: () =>
      child.exitCode === null && child.signalCode === null
        ? undefined
        : { code: child.exitCode, signal: child.signalCode, killed }
  }
}
