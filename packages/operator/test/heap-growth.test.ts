/**
 * `run` limits the heap's growth per collection (app/heap-growth.ts) unless node was started with its own
 * `--heap-growing-percent`: the flag then wins.
 */
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { limitHeapGrowth } from "../src/app/heap-growth.js"

const heapGrowth = fileURLToPath(new URL("../src/app/heap-growth.ts", import.meta.url))

describe("limitHeapGrowth", () => {
  it("leaves a --heap-growing-percent given to node alone", () => {
    expect(limitHeapGrowth(["--max-semi-space-size=2", "--heap-growing-percent=50"])).toBe(false)
    expect(limitHeapGrowth(["--heap_growing_percent=50"])).toBe(false)
  })

  it("otherwise sets it, and V8 then keeps the heap within that growth of what survives", () => {
    // In a child process: the flag is process-wide. A burst of garbage beside a slowly growing live set; by default
    // the heap grows to several times the live set, limited it stays close to it.
    const burst = `
      const keep = []; let peak = 0
      for (let round = 0; round < 300; round++) {
        const garbage = []
        for (let i = 0; i < 20000; i++) garbage.push({ a: i, b: "x" + i, c: [i, i + 1] })
        if (round % 4 === 0) keep.push(garbage.slice(0, 2000))
        peak = Math.max(peak, process.memoryUsage().heapTotal)
      }
      console.log(JSON.stringify({ peak, used: process.memoryUsage().heapUsed }))`
    const run = (limit: boolean) =>
      JSON.parse(
        execFileSync(
          process.execPath,
          [
            "--max-semi-space-size=2",
            "--import",
            "tsx",
            "--input-type=module",
            "-e",
            `${limit ? `import { limitHeapGrowth } from ${JSON.stringify(heapGrowth)}; limitHeapGrowth([]);` : ""}${burst}`
          ],
          { encoding: "utf8" }
        )
      ) as { peak: number; used: number }
    const unlimited = run(false)
    const limited = run(true)
    expect(limited.peak).toBeLessThan(unlimited.peak * 0.75)
    console.log(
      `heap peak: ${(unlimited.peak / 2 ** 20).toFixed(0)} MiB by default, ${(limited.peak / 2 ** 20).toFixed(0)} MiB limited`
    )
    // Two processes of pure CPU: beside a Go build on 2 cores they took over the default limit of 15 s.
  }, 60_000)
})
