/**
 * One control-plane component as a scoped resource: spawned in its own process group with its output
 * in `<logsDir>/<name>.log`, stopped on scope close with SIGTERM, then SIGKILL after a timeout.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { ClusterError } from "./errors.js"
import type { Reaper } from "./reaper.js"

export interface ComponentSpec {
  readonly name: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly logsDir: string
  readonly env?: NodeJS.ProcessEnv
  /** How long to wait after SIGTERM before SIGKILL. */
  readonly stopTimeoutMillis?: number
}

export interface Component {
  readonly name: string
  readonly pid: number
  readonly logFile: string
  /** `undefined` while running; the exit description once it has exited. */
  readonly exited: () => string | undefined
}

export const logTail = (file: string, lines = 30): string => {
  try {
    const text = fs.readFileSync(file, "utf8").trimEnd()
    return text.split("\n").slice(-lines).join("\n")
  } catch {
    return "(no log)"
  }
}

const signalGroup = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pid, signal)
  } catch {
    // the group is gone
  }
}

export const startComponent = (spec: ComponentSpec, reaper: Reaper) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const logFile = path.join(spec.logsDir, `${spec.name}.log`)
        const fd = fs.openSync(logFile, "a")
        fs.writeSync(fd, `$ ${[spec.command, ...spec.args].join(" ")}\n`)
        const child = spawn(spec.command, spec.args, {
          stdio: ["ignore", fd, fd],
          detached: true,
          env: spec.env ?? process.env
        })
        fs.closeSync(fd)
        if (child.pid === undefined) throw new Error(`could not start ${spec.command}`)
        const pid = child.pid
        reaper.register(pid)
        let exitDescription: string | undefined
        let resolveExit: () => void = () => {}
        const exitPromise = new Promise<void>((resolve) => {
          resolveExit = resolve
        })
        child.on("error", (error) => {
          exitDescription = `failed: ${error.message}`
          resolveExit()
        })
        child.on("exit", (code, signal) => {
          exitDescription = signal === null ? `exited with code ${code}` : `killed by ${signal}`
          resolveExit()
        })
        child.unref()
        const component: Component = { name: spec.name, pid, logFile, exited: () => exitDescription }
        return { component, exitPromise }
      },
      catch: (cause) => new ClusterError({ component: spec.name, reason: `spawn failed: ${String(cause)}` })
    }),
    ({ component, exitPromise }) =>
      Effect.promise(async () => {
        signalGroup(component.pid, "SIGTERM")
        const timeout = spec.stopTimeoutMillis ?? 10_000
        let timer: NodeJS.Timeout | undefined
        const timedOut = await Promise.race([
          exitPromise.then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), timeout)
          })
        ])
        clearTimeout(timer)
        // Also reaches grandchildren left in the group after the leader exited.
        signalGroup(component.pid, "SIGKILL")
        if (timedOut) await exitPromise
        reaper.unregister(component.pid)
      })
  ).pipe(Effect.map(({ component }) => component))
