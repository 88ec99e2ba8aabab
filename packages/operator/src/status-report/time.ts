/**
 * Times as `status` prints them: an age like kubectl's AGE column (`45s`, `12m`, `5h`, `3d`), and a time relative to
 * now (`5m ago`, `in 3h`).
 *
 * @module
 */

/** The span `millis` as kubectl would print an age: seconds below 2 min, minutes below 2 h, hours below 2 days. */
export const span = (millis: number): string => {
  const seconds = Math.max(0, Math.floor(millis / 1000))
  if (seconds < 120) return `${seconds}s`
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`
  if (seconds < 172800) return `${Math.floor(seconds / 3600)}h`
  return `${Math.floor(seconds / 86400)}d`
}

/** The age of `time` at `now` (`<unknown>` when absent or unreadable). */
export const age = (time: string | undefined, now: Date): string => {
  const at = time === undefined ? Number.NaN : Date.parse(time)
  return Number.isNaN(at) ? "<unknown>" : span(now.getTime() - at)
}

/** `time` relative to `now`: `5m ago` or `in 5m`. */
export const relative = (time: string | undefined, now: Date): string => {
  const at = time === undefined ? Number.NaN : Date.parse(time)
  if (Number.isNaN(at)) return "at an unknown time"
  const delta = at - now.getTime()
  return delta > 0 ? `in ${span(delta)}` : `${span(-delta)} ago`
}
