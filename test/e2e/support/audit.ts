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
  readonly events: (fromOffset?: number) => ReadonlyArray<AuditEvent>
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
    events: (fromOffset = 0) => {
      if (!fs.existsSync(file)) return []
      const fd = fs.openSync(file, "r")
      try {
        const size = fs.fstatSync(fd).size
        const buffer = Buffer.alloc(Math.max(0, size - fromOffset))
        fs.readSync(fd, buffer, 0, buffer.length, fromOffset)
        return buffer
          .toString("utf8")
          .split("\n")
          .filter((line) => line.trim() !== "")
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

/**
 * A create or apply whose outcome the log cannot tell: the client went away (killed) before the answer, so the
 * apiserver logged a 5xx although the write may have been stored.
 */
export const uncertain = (event: AuditEvent): boolean =>
  (event.verb === "create" || event.verb === "patch") && (event.responseStatus?.code ?? 500) >= 500

/** Per object name of `resource` in `namespace`: how often it was surely created, and how often perhaps. */
export const creations = (events: ReadonlyArray<AuditEvent>, resource: string, namespace: string) => {
  const counts = new Map<string, { sure: number; perhaps: number }>()
  for (const event of events) {
    if (event.objectRef?.resource !== resource || event.objectRef.namespace !== namespace) continue
    if (event.objectRef.subresource !== undefined) continue
    const sure = created(event)
    if (!sure && !uncertain(event)) continue
    const name = event.objectRef.name ?? ""
    const count = counts.get(name) ?? { sure: 0, perhaps: 0 }
    counts.set(name, sure ? { ...count, sure: count.sure + 1 } : { ...count, perhaps: count.perhaps + 1 })
  }
  return counts
}
