/**
 * Go durations (`168h`, `1h30m`, `0s`) as `maintenance.restartInterval` holds them.
 *
 * @module
 */
import { durationPattern } from "../../api/index.js"

const unitMillis: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000
}

/** The length of a Go duration in milliseconds, or `undefined` when it is not one. */
export const goDurationMillis = (text: string): number | undefined => {
  if (!durationPattern.test(text)) return undefined
  if (text === "0") return 0
  let total = 0
  for (const match of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(match[1]) * (unitMillis[match[2] ?? ""] ?? 0)
  }
  return total
}
