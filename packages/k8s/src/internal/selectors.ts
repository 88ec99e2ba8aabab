/** Label and field selectors, as the apiserver parses them. */

type Requirement =
  | { readonly op: "=" | "!="; readonly key: string; readonly value: string }
  | { readonly op: "in" | "notin"; readonly key: string; readonly values: ReadonlyArray<string> }
  | { readonly op: "exists" | "!exists"; readonly key: string }

const splitTopLevel = (selector: string): Array<string> => {
  const parts: Array<string> = []
  let depth = 0
  let current = ""
  for (const c of selector) {
    if (c === "(") depth++
    if (c === ")") depth--
    if (c === "," && depth === 0) {
      parts.push(current)
      current = ""
    } else current += c
  }
  if (current.trim() !== "") parts.push(current)
  return parts.map((p) => p.trim()).filter((p) => p !== "")
}

export const parseSelector = (selector: string): ReadonlyArray<Requirement> =>
  splitTopLevel(selector).map((part): Requirement => {
    const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(part)
    if (set !== null) {
      return {
        op: set[2] as "in" | "notin",
        key: set[1] ?? "",
        values: (set[3] ?? "").split(",").map((v) => v.trim())
      }
    }
    const ne = /^([^!=\s]+)\s*!=\s*(.*)$/.exec(part)
    if (ne !== null) return { op: "!=", key: ne[1] ?? "", value: (ne[2] ?? "").trim() }
    const eq = /^([^!=\s]+)\s*==?\s*(.*)$/.exec(part)
    if (eq !== null) return { op: "=", key: eq[1] ?? "", value: (eq[2] ?? "").trim() }
    if (part.startsWith("!")) return { op: "!exists", key: part.slice(1).trim() }
    return { op: "exists", key: part }
  })

export const matches = (
  requirements: ReadonlyArray<Requirement>,
  lookup: (key: string) => string | undefined
): boolean =>
  requirements.every((r) => {
    const value = lookup(r.key)
    switch (r.op) {
      case "=":
        return value === r.value
      case "!=":
        return value !== r.value
      case "in":
        return value !== undefined && r.values.includes(value)
      case "notin":
        return value === undefined || !r.values.includes(value)
      case "exists":
        return value !== undefined
      default:
        return value === undefined
    }
  })

/** A predicate for objects from optional label and field selectors. */
export const objectFilter = (options: {
  readonly labelSelector?: string | undefined
  readonly fieldSelector?: string | undefined
}): ((object: {
  readonly metadata: { readonly labels?: Readonly<Record<string, string>> | undefined }
}) => boolean) => {
  const labels = parseSelector(options.labelSelector ?? "")
  const fields = parseSelector(options.fieldSelector ?? "")
  return (object) =>
    matches(labels, (k) => object.metadata.labels?.[k]) &&
    matches(fields, (k) => {
      let node: unknown = object
      for (const s of k.split("."))
        node = typeof node === "object" && node !== null ? (node as Record<string, unknown>)[s] : undefined
      return node === undefined ? undefined : String(node)
    })
}
