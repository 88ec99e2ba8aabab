/**
 * One control-plane component as a scoped resource: spawned in its own process group with its output
 * in `<logsDir>/<name>.log`, stopped on scope close with SIGTERM, then SIGKILL after a timeout.
 * For fault injection a component can be signalled (SIGSTOP/SIGCONT/SIGKILL) and restarted with the
 * same command line; the scope then stops whichever process is current.
 */
import { type ChildProcess, spawn } from "node:child_process"
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
  /** The current process (a restart changes it). */
  readonly pid: number
  readonly logFile: string
  /** `undefined` while running; the exit description once it has exited. */
  readonly exited: () => string | undefined
  /** Sends `signal` to the component's process group. */
  readonly signal: (signal: NodeJS.Signals) => void
  /** Stops the process (`signal`, default SIGTERM; SIGKILL after the stop timeout) and starts it again. */
  readonly restart: (signal?: NodeJS.Signals) => Promise<void>
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

interface Running {
  readonly pid: number
  readonly exit: Promise<void>
  exitDescription: string | undefined
}

const spawnOnce = (spec: ComponentSpec, logFile: string, reaper: Reaper): Running => {
  const fd = fs.openSync(logFile, "a")
  fs.writeSync(fd, `$ ${[spec.command, ...spec.args].join(" ")}\n`)
  const child: ChildProcess = spawn(spec.command, spec.args, {
    stdio: ["ignore", fd, fd],
    detached: true,
    env: spec.env ?? process.env
  })
  fs.closeSync(fd)
  if (child.pid === undefined) throw new Error(`could not start ${spec.command}`)
  reaper.register(child.pid)
  let resolveExit: () => void = () => {}
  const running: Running = {
    pid: child.pid,
    exit: new Promise<void>((resolve) => {
      resolveExit = resolve
    }),
    exitDescription: undefined
  }
  child.on("error", (error) => {
    running.exitDescription = `failed: ${error.message}`
    resolveExit()
  })
  child.on("exit", (code, signal) => {
    running.exitDescription = signal === null ? `exited with code ${code}` : `killed by ${signal}`
    resolveExit()
  })
  child.unref()
  return running
}

/**
 * SIGTERM (or `signal`), SIGKILL after the timeout; also reaches grandchildren left in the group. A frozen (SIGSTOP)
 * process is resumed first so that it can handle a catchable signal, but not for SIGKILL, which ends a stopped
 * process as it is: resumed, it could answer a request that waited in its socket before the kill lands (a fault
 * test that froze the apiserver under a request saw that request succeed).
 */
const stop = async (spec: ComponentSpec, running: Running, reaper: Reaper, signal: NodeJS.Signals = "SIGTERM") => {
  if (signal !== "SIGKILL") signalGroup(running.pid, "SIGCONT")
  signalGroup(running.pid, signal)
  let timer: NodeJS.Timeout | undefined
  const timedOut = await Promise.race([
    running.exit.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), spec.stopTimeoutMillis ?? 10_000)
    })
  ])
  clearTimeout(timer)
  signalGroup(running.pid, "SIGKILL")
  if (timedOut) await running.exit
  reaper.unregister(running.pid)
}

export const startComponent = (spec: ComponentSpec, reaper: Reaper) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const logFile = path.join(spec.logsDir, `${spec.name}.log`)
        let current = spawnOnce(spec, logFile, reaper)
        const component: Component = {
          name: spec.name,
          get pid() {
            return current.pid
          },
          logFile,
          exited: () => current.exitDescription,
          signal: (signal) => signalGroup(current.pid, signal),
          restart: async (signal) => {
            await stop(spec, current, reaper, signal)
            current = spawnOnce(spec, logFile, reaper)
          }
        }
        return { component, current: () => current }
      },
      catch: (cause) => new ClusterError({ component: spec.name, reason: `spawn failed: ${String(cause)}` })
    }),
    ({ current }) => Effect.promise(() => stop(spec, current(), reaper))
  ).pipe(Effect.map(({ component }) => component))
