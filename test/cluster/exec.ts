/**
 * Running a build command (go, openssl) as an Effect: output to a log file, a progress line every
 * 30 s, the process killed on interruption, and an error that says why it failed. The command stays
 * in our process group, so a Ctrl-C in the terminal reaches it too.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { Data, Effect } from "effect"

export class CommandError extends Data.TaggedError("CommandError")<{
  readonly command: string
  readonly reason: string
  readonly outputTail: string
}> {
  override get message() {
    return `${this.command}: ${this.reason}${this.outputTail === "" ? "" : `\n--- last output ---\n${this.outputTail}`}`
  }
}

export type Log = (line: string) => void

export const defaultLog: Log = (line) => console.log(`[cluster] ${line}`)

export interface ExecOptions {
  readonly cwd?: string
  readonly env?: NodeJS.ProcessEnv
  /** Appended to (stdout and stderr); kept after the command ends. */
  readonly logFile?: string
  /** When set, prints `label …` at start, every `heartbeatSeconds`, and when done. */
  readonly label?: string
  readonly log?: Log
  readonly heartbeatSeconds?: number
}

const tail = (text: string, lines = 40) => text.trimEnd().split("\n").slice(-lines).join("\n")

/** Runs `command args…`; succeeds with its stdout when it exits 0. */
export const exec = (command: string, args: ReadonlyArray<string>, options: ExecOptions = {}) =>
  Effect.async<string, CommandError>((resume) => {
    const shown = [command, ...args].join(" ")
    const log = options.log ?? defaultLog
    const started = Date.now()
    const elapsed = () => Math.round((Date.now() - started) / 1000)
    if (options.label !== undefined) log(`${options.label} …`)
    const logStream = options.logFile === undefined ? undefined : fs.createWriteStream(options.logFile, { flags: "a" })
    logStream?.write(`\n$ ${shown}\n`)
    let stdout = ""
    let output = ""
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    const heartbeat =
      options.label === undefined
        ? undefined
        : setInterval(() => log(`${options.label} … ${elapsed()}s`), (options.heartbeatSeconds ?? 30) * 1000)
    const collect = (isStdout: boolean) => (chunk: Buffer) => {
      const text = chunk.toString("utf8")
      if (isStdout) stdout += text
      output = (output + text).slice(-20_000)
      logStream?.write(chunk)
    }
    child.stdout.on("data", collect(true))
    child.stderr.on("data", collect(false))
    let settled = false
    const finish = (error: CommandError | undefined) => {
      if (settled) return
      settled = true
      if (heartbeat !== undefined) clearInterval(heartbeat)
      logStream?.end()
      if (error === undefined) {
        if (options.label !== undefined) log(`${options.label} done in ${elapsed()}s`)
        resume(Effect.succeed(stdout))
      } else {
        resume(Effect.fail(error))
      }
    }
    child.on("error", (cause: NodeJS.ErrnoException) =>
      finish(
        new CommandError({
          command: shown,
          reason:
            cause.code === "ENOENT" ? `\`${command}\` was not found on PATH` : `could not start: ${cause.message}`,
          outputTail: ""
        })
      )
    )
    child.on("close", (code, signal) =>
      finish(
        code === 0
          ? undefined
          : new CommandError({
              command: shown,
              reason: signal === null ? `exited with code ${code}` : `killed by ${signal}`,
              outputTail: tail(output)
            })
      )
    )
    return Effect.sync(() => {
      if (heartbeat !== undefined) clearInterval(heartbeat)
      child.kill("SIGTERM")
    })
  })
