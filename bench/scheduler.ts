/**
 * `npx tsx --expose-gc --conditions=@convex-operator/source bench/scheduler.ts [--keys 1000,10000]
 * [--concurrency 4] [--runs 3]`: the per-key schedulers of `@convex-operator/k8s` in one process, on the real clock,
 * without a cluster. Never part of `npm test`.
 *
 * For each scheduler (WorkQueue: one dispatcher, a fiber per run; Supervisor: a fiber per key) and each key count:
 * the wall time from enqueueing every key at once until each has run once (each run yields 3 times, so runs overlap
 * and contend for the `--concurrency` permits), and the heap retained per key afterwards while every key is idle
 * (measured after a forced GC, so run it with `--expose-gc`). Then the permit gates alone: N fibers that each take
 * one of 4 permits around 3 yields, through Effect's Semaphore and through the Supervisor's FIFO gate
 * (packages/k8s/src/internal/permits.ts), the former only up to 3000 fibers. The median of `--runs` runs is printed;
 * nothing is written (bench/results/scheduler.txt holds a run's output).
 */
import * as os from "node:os"
import { parseArgs } from "node:util"
import { Action, Supervisor, WorkQueue } from "@convex-operator/k8s"
import { Effect, Layer } from "effect"
import { Metrics } from "../packages/k8s/src/index.js"
import * as Permits from "../packages/k8s/src/internal/permits.js"

const { values: flags } = parseArgs({
  options: {
    keys: { type: "string", default: "1000,10000" },
    concurrency: { type: "string", default: "4" },
    runs: { type: "string", default: "3" }
  }
})
const keyCounts = flags.keys.split(",").map(Number)
const concurrency = Number(flags.concurrency)
const runs = Number(flags.runs)
const gc = (globalThis as { gc?: () => void }).gc

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const heap = () => {
  gc?.()
  return process.memoryUsage().heapUsed
}

type Make = typeof WorkQueue.make

/** Drains `n` keys; returns [milliseconds, heap bytes per idle key]. */
const drain = (make: Make, n: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      let done = 0
      const before = heap()
      const queue = yield* make({
        name: "bench",
        concurrency,
        run: () =>
          Effect.repeatN(Effect.yieldNow(), 3).pipe(
            Effect.zipRight(Effect.sync(() => void done++)),
            Effect.as(Action.awaitChange)
          )
      })
      const start = performance.now()
      for (let i = 0; i < n; i++) yield* queue.enqueue(`key-${i}`)
      while (done < n) yield* Effect.sleep(1)
      const ms = performance.now() - start
      const perKey = (heap() - before) / n
      return [ms, perKey] as const
    })
  ).pipe(Effect.provide(Layer.fresh(Metrics.Metrics.layer)))

const gate = (kind: "effect" | "fifo", n: number) =>
  Effect.gen(function* () {
    const semaphore = yield* Effect.makeSemaphore(4)
    const fifo = Permits.make(4)
    const withPermit = <A>(effect: Effect.Effect<A>) =>
      kind === "effect" ? semaphore.withPermits(1)(effect) : fifo.withPermit(effect)
    const start = performance.now()
    yield* Effect.forEach(
      Array.from({ length: n }, () => withPermit(Effect.repeatN(Effect.yieldNow(), 3))),
      (effect) => effect,
      { concurrency: "unbounded", discard: true }
    )
    return performance.now() - start
  })

const main = Effect.gen(function* () {
  if (gc === undefined) console.log("(no --expose-gc: the heap per key is not measured after a GC)")
  const load = os.loadavg().map((x) => x.toFixed(2))
  console.log(`${os.cpus().length} cores (${os.cpus()[0]?.model}), load average ${load.join(" ")} at the start`)
  console.log(`node ${process.version}, concurrency ${concurrency}, median of ${runs} runs`)
  for (const n of keyCounts) {
    for (const [name, make] of [
      ["WorkQueue", WorkQueue.make],
      ["Supervisor", Supervisor.make as Make]
    ] as const) {
      const results: Array<readonly [number, number]> = []
      for (let r = 0; r < runs; r++) results.push(yield* drain(make, n))
      const ms = median(results.map((x) => x[0]))
      const bytes = median(results.map((x) => x[1]))
      console.log(
        `${name.padEnd(10)} ${String(n).padStart(6)} keys: all run once in ${ms.toFixed(0).padStart(6)} ms; ` +
          `${(bytes / 1024).toFixed(2)} KiB heap per idle key`
      )
    }
    // Effect's Semaphore wakes every waiter on each release: past a few thousand waiters it takes minutes.
    for (const kind of n <= 3000 ? (["effect", "fifo"] as const) : (["fifo"] as const)) {
      const times: Array<number> = []
      for (let r = 0; r < runs; r++) times.push(yield* gate(kind, n))
      console.log(
        `gate ${kind === "effect" ? "Effect.Semaphore" : "FIFO permits    "} ${String(n).padStart(6)} fibers: ` +
          `${median(times).toFixed(0).padStart(6)} ms`
      )
    }
  }
})

Effect.runPromise(main).catch((error) => {
  console.error(error)
  process.exit(1)
})
