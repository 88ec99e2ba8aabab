/**
 * Audit-log questions the leadership and deletion fault tests ask: which operator replica made a request (by the
 * credential id of its ServiceAccount token), when the apiserver received it, whether it succeeded, and a tail of the
 * log that follows it as it grows, to act the moment a request shows up (kill a leader right after it created a
 * backup, kill the apiserver right after the operator began a finalizer).
 */
import * as fs from "node:fs"
import { type AuditEvent, type AuditLog, auditTail } from "./audit.js"
import { sleep } from "./fault.js"

/** The credential id (`JTI=<token id>`) the apiserver logs for requests made with the token in `kubeconfig`. */
export const credentialOf = (kubeconfig: string): string => {
  const config = JSON.parse(fs.readFileSync(kubeconfig, "utf8")) as { users: Array<{ user: { token: string } }> }
  const token = config.users[0]?.user.token ?? ""
  const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { jti: string }
  return `JTI=${payload.jti}`
}

/** The credential id of the request's token (undefined for certificates). */
export const credentialOfEvent = (event: AuditEvent): string | undefined =>
  event.user?.extra?.["authentication.kubernetes.io/credential-id"]?.[0]

/** When the apiserver received the request (epoch milliseconds). */
export const receivedAt = (event: AuditEvent): number => Date.parse(event.requestReceivedTimestamp ?? "")

/** Answered 2xx: the write took effect. */
export const succeeded = (event: AuditEvent): boolean => {
  const code = event.responseStatus?.code ?? 0
  return code >= 200 && code < 300
}

/** `verb resource/name` (with `/subresource`) and the answer's code, for failure messages. */
export const describeEvent = (event: AuditEvent): string =>
  `${event.verb} ${event.objectRef?.resource}/${event.objectRef?.name ?? ""}${
    event.objectRef?.subresource === undefined ? "" : `/${event.objectRef.subresource}`
  } ${event.responseStatus?.code ?? "?"} at ${event.requestReceivedTimestamp}`

/**
 * A create of `resource` in `namespace` (a POST, or a server-side apply answered 201), by name: `sure` when the
 * apiserver answered 201, `perhaps` when it answered 5xx (a client killed mid-request: the object may be stored).
 */
export const createsByName = (
  events: ReadonlyArray<AuditEvent>,
  resource: string,
  namespace: string
): ReadonlyMap<string, { readonly sure: number; readonly perhaps: number }> => {
  const counts = new Map<string, { sure: number; perhaps: number }>()
  for (const event of events) {
    const ref = event.objectRef
    if (ref?.resource !== resource || ref.namespace !== namespace || ref.subresource !== undefined) continue
    if (event.verb !== "create" && event.verb !== "patch") continue
    const code = event.responseStatus?.code ?? 500
    if (code !== 201 && code < 500) continue
    const count = counts.get(ref.name ?? "") ?? { sure: 0, perhaps: 0 }
    if (code === 201) count.sure++
    else count.perhaps++
    counts.set(ref.name ?? "", count)
  }
  return counts
}

/**
 * Follows the audit log from `fromOffset` (`auditTail`): each `next()` returns the events appended since the last
 * call, and `waitFor` polls them until one matches.
 */
export const followAudit = (log: AuditLog, fromOffset = log.offset()) => {
  const { next } = auditTail(log, fromOffset)
  /** Polls every 20 ms until an event matches; resolves to it (rejects after `timeoutMillis`). */
  const waitFor = async (description: string, match: (event: AuditEvent) => boolean, timeoutMillis = 90_000) => {
    const deadline = Date.now() + timeoutMillis
    for (;;) {
      const found = next().find(match)
      if (found !== undefined) return found
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${description} in the audit log`)
      await sleep(20)
    }
  }
  return { next, waitFor }
}
