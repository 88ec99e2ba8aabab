/**
 * The apiserver's audit log as a request counter independent of the operator's own client: a Metadata-level policy
 * for every request, one JSON event per line. A test reads the events (from an offset, to look at one phase) and
 * filters them by user agent, user, verb and object.
 */
import * as fs from "node:fs"
import * as path from "node:path"

export interface AuditEvent {
  readonly verb: string
  readonly userAgent?: string
  readonly user?: {
    readonly username?: string
    /** `authentication.kubernetes.io/credential-id`: `JTI=<id>` of a ServiceAccount token. */
    readonly extra?: Readonly<Record<string, ReadonlyArray<string>>>
  }
  readonly objectRef?: {
    readonly resource?: string
    readonly namespace?: string
    readonly name?: string
    readonly subresource?: string
    readonly apiGroup?: string
  }
  readonly responseStatus?: { readonly code?: number }
  readonly requestReceivedTimestamp?: string
  readonly stageTimestamp?: string
}

export interface AuditLog {
  readonly file: string
  /** kube-apiserver flags that write it. */
  readonly apiserverArgs: ReadonlyArray<string>
  /** The current end of the log, for `events(offset)`. */
  readonly offset: () => number
  /** The events from `fromOffset` on; with `hint`, only those whose line contains it (skips parsing the rest). */
  readonly events: (fromOffset?: number, hint?: string) => ReadonlyArray<AuditEvent>
}

/**
 * Writes the policy into `dir` and returns the flags and a reader for `<dir>/audit.log`. With `users`, only their
 * requests are logged (a benchmark of a thousand instances would otherwise log every kwok heartbeat).
 */
export const auditLog = (dir: string, users?: ReadonlyArray<string>): AuditLog => {
  const policy = path.join(dir, "audit-policy.yaml")
  const file = path.join(dir, "audit.log")
  const rules =
    users === undefined
      ? "  - level: Metadata\n"
      : `  - level: Metadata\n    users: ${JSON.stringify(users)}\n  - level: None\n`
  fs.writeFileSync(policy, `apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n${rules}`)
  return {
    file,
    apiserverArgs: [`--audit-policy-file=${policy}`, `--audit-log-path=${file}`, "--audit-log-mode=blocking"],
    offset: () => (fs.existsSync(file) ? fs.statSync(file).size : 0),
    events: (fromOffset = 0, hint) => {
      if (!fs.existsSync(file)) return []
      const fd = fs.openSync(file, "r")
      try {
        const size = fs.fstatSync(fd).size
        const buffer = Buffer.alloc(Math.max(0, size - fromOffset))
        fs.readSync(fd, buffer, 0, buffer.length, fromOffset)
        return buffer
          .toString("utf8")
          .split("\n")
          .filter((line) => line.trim() !== "" && (hint === undefined || line.includes(hint)))
          .flatMap((line) => {
            try {
              return [JSON.parse(line) as AuditEvent]
            } catch {
              return [] // a line being written
            }
          })
      } finally {
        fs.closeSync(fd)
      }
    }
  }
}

export const writeVerbs: ReadonlySet<string> = new Set(["create", "update", "patch", "delete", "deletecollection"])

/** Requests made by the operator (its user agent is `convex-operator/<version>`). */
export const byOperator = (event: AuditEvent): boolean => (event.userAgent ?? "").startsWith("convex-operator/")

/** A request that created its object: a create, or a server-side apply answered 201. */
export const created = (event: AuditEvent): boolean =>
  (event.verb === "create" || event.verb === "patch") && event.responseStatus?.code === 201

/** A delete the apiserver carried out (200, or 202 while finalizers run). */
export const deleted = (event: AuditEvent): boolean =>
  event.verb === "delete" && (event.responseStatus?.code === 200 || event.responseStatus?.code === 202)

/**
 * A create or apply the apiserver answered with 5xx: the client went away (killed) before the answer. The write may
 * have been stored all the same; the log cannot tell.
 */
export const interrupted = (event: AuditEvent): boolean =>
  (event.verb === "create" || event.verb === "patch") && (event.responseStatus?.code ?? 500) >= 500

/**
 * Per object name of `resource` in `namespace`, in log order: its successful creates (201), deletes, and
 * interrupted writes (`interrupted <code>`; see `creations` for when one counts as a create).
 */
export const lifecycle = (events: ReadonlyArray<AuditEvent>, resource: string, namespace: string) => {
  const byName = new Map<string, Array<string>>()
  for (const event of events) {
    if (event.objectRef?.resource !== resource || event.objectRef.namespace !== namespace) continue
    if (event.objectRef.subresource !== undefined) continue
    const what = created(event)
      ? "created"
      : deleted(event)
        ? "deleted"
        : interrupted(event)
          ? `interrupted ${event.responseStatus?.code ?? "-"}`
          : undefined
    if (what === undefined) continue
    const name = event.objectRef.name ?? ""
    byName.set(name, [...(byName.get(name) ?? []), what])
  }
  return byName
}

/**
 * How often an object came into being, by its history (`lifecycle`) and whether it exists at the end: each successful
 * create (201), and each write interrupted while the object was absent that proves to have been stored, because a
 * successful delete follows it, or the object exists at the end, with no successful create in between. An interrupted
 * write that stored nothing counts nothing (a later 201 shows it), so nothing is assumed either way.
 */
export const creations = (steps: ReadonlyArray<string>, existsAtEnd: boolean): number => {
  let count = 0
  let present = false
  let pending = false
  for (const step of steps) {
    if (step === "created") {
      count++
      present = true
      pending = false
    } else if (step === "deleted") {
      if (!present && pending) count++
      present = false
      pending = false
    } else if (!present) pending = true
  }
  return count + (pending && !present && existsAtEnd ? 1 : 0)
}

/**
 * The names of `resource` in `namespace` that came into being more or less than once (see `creations`), with their
 * history: `name: created,deleted,…`. `present` names those that exist at the end.
 */
export const notCreatedOnce = (
  events: ReadonlyArray<AuditEvent>,
  resource: string,
  namespace: string,
  names: ReadonlyArray<string>,
  present: ReadonlySet<string>
): ReadonlyArray<string> => {
  const history = lifecycle(events, resource, namespace)
  return names.flatMap((name) => {
    const steps = history.get(name) ?? []
    return creations(steps, present.has(name)) === 1 ? [] : [`${name}: ${steps.join(",") || "never"}`]
  })
}

/**
 * Follows the log as it grows, for reacting to a request at once (a kill right after the operator created a Job).
 * `next` returns the events appended since the last call; lines without `hint` are skipped unparsed (the log of a
 * full cluster grows by hundreds of lines a second).
 */
export const auditTail = (log: AuditLog, fromOffset = log.offset()) => {
  let offset = fromOffset
  let partial = ""
  const next = (hint?: string): ReadonlyArray<AuditEvent> => {
    if (!fs.existsSync(log.file)) return []
    const fd = fs.openSync(log.file, "r")
    try {
      const size = fs.fstatSync(fd).size
      if (size <= offset) return []
      const buffer = Buffer.alloc(size - offset)
      fs.readSync(fd, buffer, 0, buffer.length, offset)
      offset = size
      const lines = (partial + buffer.toString("utf8")).split("\n")
      partial = lines.pop() ?? ""
      return lines.flatMap((line) => {
        if (line.trim() === "" || (hint !== undefined && !line.includes(hint))) return []
        try {
          return [JSON.parse(line) as AuditEvent]
        } catch {
          return []
        }
      })
    } finally {
      fs.closeSync(fd)
    }
  }
  return { next }
}
