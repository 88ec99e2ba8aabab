/** Failures of a reconcile, and how a failed write is described to users. */
import type { KubeError } from "@convex-operator/k8s"
import { Data } from "effect"

/**
 * A failure worth retrying with backoff (a conflict, the network, the apiserver being busy). `retryAfterMillis`:
 * the longest `Retry-After` among the refused requests (a 429 from priority and fairness); the work queue waits at
 * least that long before the next reconcile.
 */
export class RetryableError extends Data.TaggedError("RetryableError")<{
  readonly message: string
  readonly retryAfterMillis?: number
}> {}

/** The longest of the waits asked for, if any. */
export const longestWait = (waits: ReadonlyArray<number | undefined>): { readonly retryAfterMillis?: number } => {
  const asked = waits.filter((wait): wait is number => wait !== undefined)
  return asked.length === 0 ? {} : { retryAfterMillis: Math.max(...asked) }
}

/** A user-facing description of a failed write: the apiserver's reason and field causes, never a request body. */
export const describeError = (error: KubeError): string => {
  const causes =
    "causes" in error && error.causes.length > 0
      ? error.causes.map((cause) => `${cause.field ?? ""}: ${cause.message ?? cause.reason ?? ""}`).join("; ")
      : undefined
  return `${error._tag}: ${causes ?? error.message}`
}
