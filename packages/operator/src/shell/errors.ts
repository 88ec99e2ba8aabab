/** Failures of a reconcile, and how a failed write is described to users. */
import type { KubeError } from "@convex-operator/k8s"
import { Data } from "effect"

/** A failure worth retrying with backoff (a conflict, the network, the apiserver being busy). */
export class RetryableError extends Data.TaggedError("RetryableError")<{ readonly message: string }> {}

/** A user-facing description of a failed write: the apiserver's reason and field causes, never a request body. */
export const describeError = (error: KubeError): string => {
  const causes =
    "causes" in error && error.causes.length > 0
      ? error.causes.map((cause) => `${cause.field ?? ""}: ${cause.message ?? cause.reason ?? ""}`).join("; ")
      : undefined
  return `${error._tag}: ${causes ?? error.message}`
}
