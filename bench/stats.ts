/** Percentiles and a plain text table for the benchmark report. */

/** The p-th percentile (0–100) by nearest rank; undefined for no samples. */
export const percentile = (samples: ReadonlyArray<number>, p: number): number | undefined => {
  if (samples.length === 0) return undefined
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[Math.min(sorted.length, rank) - 1]
}

export interface Spread {
  readonly p50: number | undefined
  readonly p95: number | undefined
  readonly p99: number | undefined
  readonly max: number | undefined
}

export const spread = (samples: ReadonlyArray<number>): Spread => ({
  p50: percentile(samples, 50),
  p95: percentile(samples, 95),
  p99: percentile(samples, 99),
  max: percentile(samples, 100)
})

/** Seconds with one decimal, or "-". */
export const seconds = (millis: number | undefined): string =>
  millis === undefined ? "-" : `${(millis / 1000).toFixed(millis < 10_000 ? 2 : 1)} s`

/** Rows of two columns, the first padded. */
export const table = (rows: ReadonlyArray<readonly [string, string]>): string => {
  const width = Math.max(...rows.map(([label]) => label.length))
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join("\n")
}
