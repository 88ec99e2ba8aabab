/**
 * Whether an observed object already is what was rendered. The apiserver adds defaults and status to what is
 * applied, so an observed object matches when every field of the rendered one is present in it with the same
 * value: objects compare field by field, lists element by element with the same length, and a number equals its
 * decimal string (quantities such as `cpu: 1` come back as `"1"`).
 *
 * @module
 */

/** Whether `observed` holds every field of `desired` with the same value. */
export const isSubset = (desired: unknown, observed: unknown): boolean => {
  if (desired === observed) return true
  if (Array.isArray(desired)) {
    return (
      Array.isArray(observed) &&
      desired.length === observed.length &&
      desired.every((entry, index) => isSubset(entry, observed[index]))
    )
  }
  if (typeof desired === "object" && desired !== null) {
    if (typeof observed !== "object" || observed === null || Array.isArray(observed)) return false
    const fields = observed as Record<string, unknown>
    return Object.entries(desired).every(([key, value]) => isSubset(value, fields[key]))
  }
  if (typeof desired === "number" && typeof observed === "string") return String(desired) === observed
  if (typeof desired === "string" && typeof observed === "number") return desired === String(observed)
  return false
}

/** Whether applying `desired` would change `observed` (absent counts as a change). */
export const needsApply = (desired: unknown, observed: unknown): boolean =>
  observed === undefined || !isSubset(desired, observed)
