/**
 * How far the running operator lets its heap grow between collections. V8 picks the old generation's next limit
 * from how fast the collector runs, up to four times what survived, so the garbage of a burst (a fleet's creation:
 * every watch event, decision and apply body) makes the heap, and with it the RSS, balloon: the N = 100 bench settled
 * at 111 MiB after a peak of 225 MiB (bench/results/n100-alarm-after.json), the N = 1000 one at 242 MiB after 410
 * (n1000-session2-after.json). Grown by 50 % per collection, the peak stays under 1.5 times the settled RSS
 * (n100-index-growing50.json, n1000-index-growing50.json). 20 % kept it lower still, but at N = 1000 the collector
 * then took a third of the operator's CPU (n1000-alarm-profile.txt), and the operator used 14 s more CPU to converge
 * than at 50 % (n1000-index-after.json against n1000-index-growing50.json).
 *
 * `NODE_OPTIONS` may not carry this V8 flag (Node refuses it there), so `run` sets it when it starts; V8 reads it at
 * every collection. A `--heap-growing-percent` given to node itself is left as it is.
 *
 * @module
 */
import * as v8 from "node:v8"

/** The growth of the heap per collection, in percent of what survived it. */
export const heapGrowingPercent = 50

/** Sets V8's heap growth to `heapGrowingPercent` unless node's own arguments set it; says whether it did. */
export const limitHeapGrowth = (execArgv: ReadonlyArray<string> = process.execArgv): boolean => {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent/.test(arg))) return false
  v8.setFlagsFromString(`--heap-growing-percent=${heapGrowingPercent}`)
  return true
}
