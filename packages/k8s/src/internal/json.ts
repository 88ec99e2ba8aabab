/** JSON value helpers: deep equality, RFC 7386 merge patch, RFC 6902 patch, leaf paths. */

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
type JsonObject = { [key: string]: unknown }

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

export const clone = <A>(value: A): A => (value === undefined ? value : structuredClone(value))

export const deepEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined)
    const kb = Object.keys(b).filter((k) => b[k] !== undefined)
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]))
  }
  return false
}

/** RFC 7386: objects merge recursively, `null` deletes, anything else replaces. */
export const mergePatch = (target: unknown, patch: unknown): unknown => {
  if (!isObject(patch)) return clone(patch)
  const result: JsonObject = isObject(target) ? { ...target } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = mergePatch(result[key], value)
  }
  return result
}

export interface JsonPatchOp {
  readonly op: "add" | "remove" | "replace" | "test" | "move" | "copy"
  readonly path: string
  readonly value?: unknown
  readonly from?: string
}

const pointer = (path: string): Array<string> =>
  path === ""
    ? []
    : path
        .slice(1)
        .split("/")
        .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))

/** RFC 6902; throws a message on a failed `test` or a missing path. */
export const jsonPatch = (target: unknown, ops: ReadonlyArray<JsonPatchOp>): unknown => {
  let doc = clone(target)
  const parentOf = (segments: Array<string>): [unknown, string] => {
    let node: unknown = doc
    for (const s of segments.slice(0, -1)) {
      node = Array.isArray(node) ? node[Number(s)] : isObject(node) ? node[s] : undefined
      if (node === undefined) throw new Error(`path not found: /${segments.join("/")}`)
    }
    return [node, segments[segments.length - 1] ?? ""]
  }
  const get = (path: string): unknown => {
    let node: unknown = doc
    for (const s of pointer(path)) node = Array.isArray(node) ? node[Number(s)] : isObject(node) ? node[s] : undefined
    return node
  }
  const remove = (path: string) => {
    const [parent, last] = parentOf(pointer(path))
    if (Array.isArray(parent)) parent.splice(Number(last), 1)
    else if (isObject(parent) && last in parent) delete parent[last]
    else throw new Error(`path not found: ${path}`)
  }
  const add = (path: string, value: unknown, replace: boolean) => {
    const segments = pointer(path)
    if (segments.length === 0) {
      doc = clone(value)
      return
    }
    const [parent, last] = parentOf(segments)
    if (Array.isArray(parent)) {
      const index = last === "-" ? parent.length : Number(last)
      parent.splice(index, replace ? 1 : 0, clone(value))
    } else if (isObject(parent)) {
      if (replace && !(last in parent)) throw new Error(`path not found: ${path}`)
      parent[last] = clone(value)
    } else throw new Error(`path not found: ${path}`)
  }
  for (const op of ops) {
    switch (op.op) {
      case "add":
        add(op.path, op.value, false)
        break
      case "replace":
        add(op.path, op.value, true)
        break
      case "remove":
        remove(op.path)
        break
      case "test":
        if (!deepEqual(get(op.path), op.value)) throw new Error(`test failed at ${op.path}`)
        break
      case "move": {
        const value = get(op.from ?? "")
        remove(op.from ?? "")
        add(op.path, value, false)
        break
      }
      case "copy":
        add(op.path, get(op.from ?? ""), false)
        break
    }
  }
  return doc
}

export type Path = ReadonlyArray<string>

/** Leaves of a JSON value: scalars, lists (atomic) and empty objects, keyed by their path. */
export const leaves = (value: unknown, prefix: Path = []): Map<string, Path> => {
  const out = new Map<string, Path>()
  const walk = (node: unknown, path: Path) => {
    if (isObject(node) && Object.keys(node).length > 0) {
      for (const [k, v] of Object.entries(node)) if (v !== undefined) walk(v, [...path, k])
    } else out.set(JSON.stringify(path), path)
  }
  walk(value, prefix)
  return out
}

export const getPath = (value: unknown, path: Path): unknown => {
  let node = value
  for (const s of path) {
    if (!isObject(node)) return undefined
    node = node[s]
  }
  return node
}

/** Removes a path, and parents left empty by it. */
export const deletePath = (value: JsonObject, path: Path): void => {
  const [head, ...rest] = path
  if (head === undefined) return
  if (rest.length === 0) {
    delete value[head]
    return
  }
  const child = value[head]
  if (!isObject(child)) return
  deletePath(child, rest)
  if (Object.keys(child).length === 0) delete value[head]
}

/** Objects merge recursively, anything else (lists too) replaces. */
export const deepMerge = (target: unknown, source: unknown): unknown => {
  if (!isObject(source) || !isObject(target)) return clone(source)
  const result: JsonObject = { ...target }
  for (const [k, v] of Object.entries(source)) if (v !== undefined) result[k] = deepMerge(result[k], v)
  return result
}
