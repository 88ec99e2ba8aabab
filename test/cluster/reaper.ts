/**
 * A guardian process that kills the cluster's process groups if this process dies without closing
 * its scope (a crashed or SIGKILLed test worker). It reads `+pid` / `-pid` / `d<folder>` / `clear`
 * lines on stdin; when stdin ends without `clear`, it sends SIGTERM and then SIGKILL to every group
 * still registered, and removes the registered folders.
 */
import { spawn } from "node:child_process"
import { Effect } from "effect"

const script = `
const groups = new Set()
const dirs = new Set()
let buffer = ""
for (const signal of ["SIGINT", "SIGHUP", "SIGTERM"]) process.on(signal, () => {})
process.stdin.on("data", (chunk) => {
  buffer += chunk
  const lines = buffer.split("\\n")
  buffer = lines.pop()
  for (const line of lines) {
    const pid = Number(line.slice(1))
    if (line[0] === "+") groups.add(pid)
    if (line[0] === "-") groups.delete(pid)
    if (line[0] === "d") dirs.add(line.slice(1))
    if (line === "clear") { groups.clear(); dirs.clear() }
  }
})
const kill = (signal) => { for (const pid of groups) { try { process.kill(-pid, signal) } catch {} } }
const removeDirs = () => { for (const dir of dirs) { try { require("fs").rmSync(dir, { recursive: true, force: true }) } catch {} } }
process.stdin.on("end", () => {
  if (groups.size === 0) { removeDirs(); process.exit(0) }
  kill("SIGTERM")
  setTimeout(() => { kill("SIGKILL"); setTimeout(() => { removeDirs(); process.exit(0) }, 500) }, 5000)
})
`

export interface Reaper {
  readonly register: (pid: number) => void
  readonly unregister: (pid: number) => void
  /** A folder to delete if this process dies without closing the scope. */
  readonly registerDir: (dir: string) => void
}

/** A reaper for the life of the scope; closing the scope ends it without killing or deleting anything. */
export const makeReaper = Effect.acquireRelease(
  Effect.sync(() => {
    const child = spawn(process.execPath, ["-e", script], { stdio: ["pipe", "ignore", "ignore"], detached: true })
    child.unref()
    const stdin = child.stdin
    ;(stdin as unknown as { unref?: () => void }).unref?.()
    stdin.on("error", () => {})
    const send = (line: string) => {
      if (!stdin.destroyed) stdin.write(`${line}\n`)
    }
    return {
      child,
      reaper: {
        register: (pid: number) => send(`+${pid}`),
        unregister: (pid: number) => send(`-${pid}`),
        registerDir: (dir: string) => send(`d${dir}`)
      } satisfies Reaper
    }
  }),
  ({ child }) =>
    Effect.sync(() => {
      if (!child.stdin.destroyed) child.stdin.end("clear\n")
    })
).pipe(Effect.map(({ reaper }) => reaper))
