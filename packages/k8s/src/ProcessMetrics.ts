/**
 * The process's own metrics, read at each scrape, with the names Prometheus' client libraries give them (the
 * `process_*` families of client_golang's process collector, which controller-runtime serves by default, and
 * prom-client's `nodejs_heap_*`): CPU time, resident and virtual memory, start time, file descriptors, and V8's heap.
 * The file-descriptor and virtual-memory families come from `/proc/self` and are left out where it does not exist.
 *
 * @module
 */
import * as fs from "node:fs"
import { Effect, type Scope } from "effect"
import { type CollectedFamily, registry } from "./Metrics.js"

const gauge = (name: string, help: string, value: number | undefined): ReadonlyArray<CollectedFamily> =>
  value === undefined || !Number.isFinite(value)
    ? []
    : [{ name, help, type: "gauge", samples: [{ labels: {}, value }] }]

/** A file of /proc/self, or undefined where there is none. */
const procFile = (name: string): string | undefined => {
  try {
    return fs.readFileSync(`/proc/self/${name}`, "utf8")
  } catch {
    return undefined
  }
}

const openFds = (): number | undefined => {
  try {
    return fs.readdirSync("/proc/self/fd").length
  } catch {
    return undefined
  }
}

/** "Max open files  1048576  1048576  files" of /proc/self/limits: the soft limit. */
const maxFds = (): number | undefined => {
  const line = procFile("limits")
    ?.split("\n")
    .find((l) => l.startsWith("Max open files"))
  const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0]
  return soft === undefined || soft === "unlimited" ? undefined : Number(soft)
}

/** "VmSize:  1067436 kB" of /proc/self/status, in bytes. */
const virtualMemory = (): number | undefined => {
  const match = procFile("status")?.match(/^VmSize:\s+(\d+) kB/m)
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024
}

const startTimeSeconds = Date.now() / 1000 - process.uptime()

/** The families, as read now. */
export const families = (): ReadonlyArray<CollectedFamily> => {
  const cpu = process.cpuUsage()
  const memory = process.memoryUsage()
  return [
    {
      name: "process_cpu_seconds_total",
      help: "Total user and system CPU time spent in seconds.",
      type: "counter",
      samples: [{ labels: {}, value: (cpu.user + cpu.system) / 1e6 }]
    },
    ...gauge("process_resident_memory_bytes", "Resident memory size in bytes.", memory.rss),
    ...gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", virtualMemory()),
    ...gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", startTimeSeconds),
    ...gauge("process_open_fds", "Number of open file descriptors.", openFds()),
    ...gauge("process_max_fds", "Maximum number of open file descriptors.", maxFds()),
    ...gauge("nodejs_heap_size_total_bytes", "Process heap size from Node.js in bytes.", memory.heapTotal),
    ...gauge("nodejs_heap_size_used_bytes", "Process heap size used from Node.js in bytes.", memory.heapUsed),
    ...gauge("nodejs_external_memory_bytes", "Node.js external memory size in bytes.", memory.external)
  ]
}

/** Serves the families on the registry in context (see `Metrics.registry`) until the scope closes. */
export const register: Effect.Effect<void, never, Scope.Scope> = Effect.gen(function* () {
  const metrics = yield* registry
  const remove = metrics.collector(families)
  yield* Effect.addFinalizer(() => Effect.sync(remove))
})
