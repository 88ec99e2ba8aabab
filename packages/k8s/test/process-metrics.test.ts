/** The process's own metrics: client_golang's and prom-client's names, read at each scrape, gone with the scope. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { Metrics, ProcessMetrics } from "../src/index.js"

/** The value of an unlabelled series in a rendered page. */
const seriesValue = (page: string, name: string): number | undefined => {
  const line = page.split("\n").find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

describe("ProcessMetrics", () => {
  it.effect("serves CPU, memory, start time, file descriptors and the heap while registered", () =>
    Effect.gen(function* () {
      const registry = Metrics.makeRegistry()
      const scope = yield* Scope.make()
      yield* ProcessMetrics.register.pipe(Scope.extend(scope), Effect.provideService(Metrics.Metrics, registry))
      const first = registry.render()
      expect(first).toContain("# TYPE process_cpu_seconds_total counter")
      expect(first).toContain("# TYPE process_resident_memory_bytes gauge")
      const rss = seriesValue(first, "process_resident_memory_bytes") ?? 0
      // What Node reports a moment later, give or take what a collection in between may return (a value in other
      // units, or the heap's instead, would be far off).
      expect(Math.abs(rss - process.memoryUsage.rss())).toBeLessThan(8 * 1024 * 1024)
      const heapUsed = seriesValue(first, "nodejs_heap_size_used_bytes") ?? 0
      expect(heapUsed).toBeGreaterThan(0)
      expect(heapUsed).toBeLessThanOrEqual(seriesValue(first, "nodejs_heap_size_total_bytes") ?? 0)
      const started = seriesValue(first, "process_start_time_seconds") ?? 0
      expect(Math.abs(started - (Date.now() / 1000 - process.uptime()))).toBeLessThan(1)
      if (process.platform === "linux") {
        expect(seriesValue(first, "process_open_fds")).toBeGreaterThan(2)
        expect(seriesValue(first, "process_virtual_memory_bytes")).toBeGreaterThan(rss)
      }
      // Read anew at each scrape: CPU time spent in between shows.
      const cpuBefore = seriesValue(first, "process_cpu_seconds_total") ?? 0
      const until = process.cpuUsage().user + 20_000
      while (process.cpuUsage().user < until) Math.sqrt(Math.random())
      expect(seriesValue(registry.render(), "process_cpu_seconds_total")).toBeGreaterThan(cpuBefore)
      yield* Scope.close(scope, Exit.void)
      expect(registry.render()).not.toContain("process_")
    })
  )
})
