/**
 * podman as the image tier runs it: Debian's podman with runc (`--runtime runc --cgroup-manager cgroupfs`), its
 * storage and a containers.conf of its own under `<cache>/podman` (never the host's /etc or /var/lib/containers).
 * The containers.conf sets `default_ulimits = []`: our sandboxed machines refuse `setrlimit`, and crun's cgroup
 * handling, which is why runc is named. A missing tool fails with the reason and the install command; the tier is
 * never skipped.
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { cacheRoot } from "../cluster/versions.js"

/** What the tier needs on PATH, and the Debian package each comes from. */
const required = [
  { command: "podman", args: ["--version"], pkg: "podman" },
  { command: "runc", args: ["--version"], pkg: "runc" },
  { command: "debootstrap", args: ["--version"], pkg: "debootstrap" }
] as const

export const installHint = "apt-get install -y podman runc debootstrap (.ci/run installs them when missing)"

/** Throws, naming what is missing, unless podman, runc and debootstrap are installed and we are root. */
export const requireContainerTools = (): void => {
  const missing = required.filter(({ command, args }) => {
    try {
      execFileSync(command, args, { stdio: "ignore", timeout: 30_000 })
      return false
    } catch {
      return true
    }
  })
  if (missing.length > 0) {
    throw new Error(`the image tier needs ${missing.map((tool) => tool.command).join(", ")}: ${installHint}`)
  }
  // debootstrap and rootful podman (storage owned by root, --user 65532 inside) need root.
  if (process.getuid?.() !== 0) throw new Error("the image tier runs debootstrap and podman as root: run it as root")
}

export const podmanDir = (): string => path.join(cacheRoot(), "podman")

/** Writes the tier's containers.conf (idempotent) and returns its path. */
const containersConf = (): string => {
  const file = path.join(podmanDir(), "containers.conf")
  const text = [
    "# Written by test/image/podman.ts for the image tier.",
    "[containers]",
    "# The sandbox refuses setrlimit: no ulimits set in containers.",
    "default_ulimits = []",
    "[engine]",
    'events_logger = "file"',
    ""
  ].join("\n")
  fs.mkdirSync(path.dirname(file), { recursive: true })
  if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text) fs.writeFileSync(file, text)
  return file
}

/** podman's global flags: runc, cgroupfs, overlay storage in the cache. */
export const podmanArgs = (): ReadonlyArray<string> => [
  "--root",
  path.join(podmanDir(), "storage"),
  "--runroot",
  path.join(podmanDir(), "run"),
  "--storage-driver",
  "overlay",
  "--runtime",
  "runc",
  "--cgroup-manager",
  "cgroupfs"
]

export const podmanEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  ...extra,
  CONTAINERS_CONF: containersConf()
})

export interface PodmanResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `podman <args>` and resolves with its exit code and output (asynchronous: a build takes minutes and a
 * blocked vitest worker loses its RPC). `env` is added to podman's environment, so `--env NAME` can pass a secret
 * without putting it on a command line. `onLine` sees each line of output as it comes.
 */
export const podman = (
  args: ReadonlyArray<string>,
  options: {
    readonly env?: NodeJS.ProcessEnv
    readonly timeoutMillis?: number
    readonly onLine?: (line: string) => void
    readonly cwd?: string
  } = {}
): Promise<PodmanResult> =>
  new Promise((resolve, reject) => {
    const child = spawn("podman", [...podmanArgs(), ...args], {
      cwd: options.cwd,
      env: podmanEnv(options.env),
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    let partial = ""
    const lines = (text: string) => {
      if (options.onLine === undefined) return
      const all = (partial + text).split("\n")
      partial = all.pop() ?? ""
      for (const line of all) options.onLine(line)
    }
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8")
      lines(chunk.toString("utf8"))
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8")
      lines(chunk.toString("utf8"))
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMillis ?? 120_000)
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(new Error(`podman could not start (${error.message}): ${installHint}`))
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      if (partial !== "") options.onLine?.(partial)
      resolve({ code, stdout, stderr })
    })
  })

/** Runs `podman <args>`; resolves with stdout when it exits 0, else fails with the command and its output. */
export const podmanOk = async (
  args: ReadonlyArray<string>,
  options: Parameters<typeof podman>[1] = {}
): Promise<string> => {
  const result = await podman(args, options)
  if (result.code !== 0) {
    const tail = `${result.stdout}${result.stderr}`.trimEnd().split("\n").slice(-40).join("\n")
    throw new Error(`podman ${args.join(" ")} exited with ${result.code}:\n${tail}`)
  }
  return result.stdout
}
