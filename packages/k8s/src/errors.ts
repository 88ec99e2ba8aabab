/**
 * Typed failures of the Kubernetes API, one class per case a controller handles differently.
 * Each carries the request it belongs to and the apiserver's message; handle them with `catchTag`.
 */
import { Data } from "effect"

/** One entry of `Status.details.causes`: which field is wrong and why. */
export interface StatusCause {
  readonly reason?: string
  readonly message?: string
  readonly field?: string
}

interface Common {
  /** `GET /api/v1/namespaces/default/configmaps/x` */
  readonly request: string
  readonly message: string
}

/** 404: the object (or its namespace, or the resource type) does not exist. */
export class NotFound extends Data.TaggedError("NotFound")<Common> {}

/** 409: a stale resourceVersion or failed precondition, an existing name, or an apply conflict. */
export class Conflict extends Data.TaggedError("Conflict")<
  Common & {
    /** `Conflict` (optimistic concurrency, apply conflicts) or `AlreadyExists`. */
    readonly reason: "Conflict" | "AlreadyExists"
    readonly causes: ReadonlyArray<StatusCause>
  }
> {}

/** 422 (or 400): the object was rejected; `causes` name the fields. */
export class Invalid extends Data.TaggedError("Invalid")<
  Common & { readonly code: number; readonly reason: string; readonly causes: ReadonlyArray<StatusCause> }
> {}

/** 401/403: not allowed (RBAC), or not authenticated. */
export class Forbidden extends Data.TaggedError("Forbidden")<Common & { readonly code: number }> {}

/** 410: the resourceVersion or continue token is older than the compacted history; list again. */
export class Gone extends Data.TaggedError("Gone")<Common> {}

/** The request never got an HTTP answer (connection refused/reset, TLS, a broken stream). */
export class Transport extends Data.TaggedError("Transport")<Common> {}

/** No answer within the request timeout, or a watch was silent longer than its idle timeout. */
export class Timeout extends Data.TaggedError("Timeout")<Common> {}

/**
 * Any other status (429, 5xx, ...), kept with its code and reason. A 429 (too many requests: API Priority and
 * Fairness rejected it, or the apiserver's in-flight limit was reached) or 503 that came with a `Retry-After` header
 * keeps it in `retryAfterMillis`; the per-key schedulers wait at least that long before the key's next run.
 */
export class ApiError extends Data.TaggedError("ApiError")<
  Common & { readonly code: number; readonly reason: string; readonly retryAfterMillis?: number }
> {}

/** An object the apiserver returned does not match the Schema of its Resource. */
export class DecodeError extends Data.TaggedError("DecodeError")<Common> {}

export type KubeError = NotFound | Conflict | Invalid | Forbidden | Gone | Transport | Timeout | ApiError | DecodeError

/** Errors worth retrying with backoff without changing anything: the network or the server, not the request. */
export const isTransient = (error: KubeError): boolean =>
  error._tag === "Transport" ||
  error._tag === "Timeout" ||
  (error._tag === "ApiError" && (error.code === 429 || error.code >= 500))

/** A Kubernetes `Status` object as found in error responses and watch ERROR events. */
export interface Status {
  readonly kind?: string
  readonly code?: number
  readonly reason?: string
  readonly message?: string
  readonly details?: { readonly causes?: ReadonlyArray<StatusCause>; readonly retryAfterSeconds?: number }
}

/**
 * A `Retry-After` header in milliseconds: delay-seconds (what the apiserver sends) or an HTTP date; `undefined` when
 * absent or unreadable.
 */
export const parseRetryAfter = (header: string | undefined, now: number): number | undefined => {
  const value = header?.trim()
  if (value === undefined || value === "") return undefined
  if (/^\d+$/.test(value)) return Number(value) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/**
 * How long a failure asks to wait before the next attempt: the `retryAfterMillis` of the error, or of an error it
 * wraps as `cause` (a few levels deep); `undefined` when none carries one.
 */
export const retryAfterOf = (error: unknown): number | undefined => {
  let current = error
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    const millis = (current as { retryAfterMillis?: unknown }).retryAfterMillis
    if (typeof millis === "number" && Number.isFinite(millis) && millis >= 0) return millis
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/**
 * Maps an HTTP status, its `Status` body and its `Retry-After` (in milliseconds; else the body's
 * `details.retryAfterSeconds`) to the matching error.
 */
export const fromStatus = (
  request: string,
  code: number,
  status: Status | undefined,
  retryAfterMillis?: number
): KubeError => {
  const message = status?.message ?? `HTTP ${code}`
  const reason = status?.reason ?? ""
  const causes = status?.details?.causes ?? []
  const seconds = status?.details?.retryAfterSeconds
  const retryAfter = retryAfterMillis ?? (typeof seconds === "number" && seconds >= 0 ? seconds * 1000 : undefined)
  switch (code) {
    case 404:
      return new NotFound({ request, message })
    case 409:
      return new Conflict({
        request,
        message,
        reason: reason === "AlreadyExists" ? "AlreadyExists" : "Conflict",
        causes
      })
    case 400:
    case 422:
      return new Invalid({
        request,
        message,
        code,
        reason: reason || (code === 422 ? "Invalid" : "BadRequest"),
        causes
      })
    case 401:
    case 403:
      return new Forbidden({ request, message, code })
    case 410:
      return new Gone({ request, message })
    case 504:
      return new Timeout({ request, message })
    default:
      return new ApiError({
        request,
        message,
        code,
        reason,
        ...(retryAfter === undefined ? {} : { retryAfterMillis: retryAfter })
      })
  }
}

/** The kubeconfig (file, in-cluster files or explicit settings) could not be loaded. */
export class KubeConfigError extends Data.TaggedError("KubeConfigError")<{ readonly message: string }> {}
