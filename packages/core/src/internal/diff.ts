/**
 * Whether an observed object already is what was rendered. The apiserver adds defaults and status to what is
 * applied, so an observed object matches when every field of the rendered one is present in it with the same
 * value: objects compare field by field, lists element by element with the same length, a number equals its
 * decimal string (`cpu: 1` comes back as `"1"`), and resource quantities under `limits`/`requests` compare by
 * value (the apiserver writes `1000m` back as `"1"` and `1024Mi` as `"1Gi"`).
 *
 * @module
 */

const suffixes: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60
}

/** The value of a Kubernetes quantity (`500m`, `2Gi`, `1e3`, `4`), or `undefined` when it is not one. */
export const quantityValue = (quantity: string | number): number | undefined => {
  if (typeof quantity === "number") return quantity
  const match = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([eE][+-]?[0-9]+)|([numkMGTPE]i?)?)$/.exec(quantity)
  if (match === null) return undefined
  const multiplier = match[3] === undefined ? 1 : suffixes[match[3]]
  if (multiplier === undefined) return undefined
  return Number(`${match[1]}${match[2] ?? ""}`) * multiplier
}

const sameQuantity = (desired: unknown, observed: unknown): boolean => {
  if (
    (typeof desired !== "string" && typeof desired !== "number") ||
    (typeof observed !== "string" && typeof observed !== "number")
  ) {
    return false
  }
  const a = quantityValue(desired)
  const b = quantityValue(observed)
  return a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(a) * 1e-12
}

/** `inQuantities`: the fields of `desired` are resource quantities (it is a `limits` or `requests` map). */
const subset = (desired: unknown, observed: unknown, inQuantities: boolean): boolean => {
  if (desired === observed) return true
  if (Array.isArray(desired)) {
    return (
      Array.isArray(observed) &&
      desired.length === observed.length &&
      desired.every((entry, index) => subset(entry, observed[index], false))
    )
  }
  if (typeof desired === "object" && desired !== null) {
    if (typeof observed !== "object" || observed === null || Array.isArray(observed)) return false
    const fields = observed as Record<string, unknown>
    return Object.entries(desired).every(([key, value]) =>
      inQuantities && (typeof value === "string" || typeof value === "number")
        ? value === fields[key] || sameQuantity(value, fields[key])
        : subset(value, fields[key], key === "limits" || key === "requests")
    )
  }
  if (typeof desired === "number" && typeof observed === "string") return String(desired) === observed
  if (typeof desired === "string" && typeof observed === "number") return desired === String(observed)
  return false
}

/** Whether `observed` holds every field of `desired` with the same value. */
export const isSubset = (desired: unknown, observed: unknown): boolean => subset(desired, observed, false)

/** Whether `a` and `b` hold the same fields with the same values (each a subset of the other). */
export const sameJson = (a: unknown, b: unknown): boolean => isSubset(a, b) && isSubset(b, a)

/** Whether applying `desired` would change `observed` (absent counts as a change). */
export const needsApply = (desired: unknown, observed: unknown): boolean =>
  observed === undefined || !isSubset(desired, observed)
