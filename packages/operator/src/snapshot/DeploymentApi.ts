/**
 * The few backend HTTP routes the snapshot Jobs call directly, where the `convex` CLI has no command or prints only
 * text: a system query over `POST /api/query` (as the CLI's own `ConvexHttpClient` calls
 * `_system/cli/queryImport:list`), and `POST /api/export/set_expiration/{snapshot_id}`
 * (get-convex/convex-backend `crates/local_backend/src/router.rs` and `snapshot_export.rs`: the body is
 * `{"expirationTsNs": <u64>}`, the id is the `_id` of the `_exports` document; the admin key may do it).
 *
 * Every request carries `Authorization: Convex <admin key>`; no error message holds the key.
 *
 * @module
 */
import { Context, Data, Effect, Layer, Redacted } from "effect"
import type { ConvexTarget } from "./ConvexCli.js"

/** A request to the backend failed: not reachable, refused, or an answer that is not what Convex sends. */
export class DeploymentApiError extends Data.TaggedError("DeploymentApiError")<{ readonly message: string }> {}

export interface DeploymentApiService {
  /** Runs a query (a system one included) and returns its value in Convex's encoded JSON. */
  readonly query: (path: string) => Effect.Effect<unknown, DeploymentApiError>
  /** Sets the expiration of the completed snapshot export `id` (nanoseconds since the epoch). */
  readonly setExportExpiration: (id: string, expirationTsNs: bigint) => Effect.Effect<void, DeploymentApiError>
}

/** How long one request may take before it fails (the backend answers these from its database). */
const requestTimeoutMillis = 60_000

/** The service over `fetch` against `target`. */
export const makeDeploymentApi = (target: ConvexTarget): DeploymentApiService => {
  const base = target.url.replace(/\/+$/, "")
  const post = (path: string, body: string) =>
    Effect.tryPromise({
      try: async (signal) => {
        const response = await fetch(`${base}${path}`, {
          method: "POST",
          headers: { authorization: `Convex ${Redacted.value(target.adminKey)}`, "content-type": "application/json" },
          body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(requestTimeoutMillis)])
        })
        return { status: response.status, text: await response.text() }
      },
      catch: (cause) =>
        new DeploymentApiError({
          message: `POST ${path}: ${cause instanceof Error ? cause.message : String(cause)}`
        })
    })
  const hide = (text: string) => {
    const key = Redacted.value(target.adminKey)
    return (key === "" ? text : text.split(key).join("<admin key>")).slice(0, 300)
  }
  return {
    query: (path) =>
      Effect.gen(function* () {
        const answer = yield* post("/api/query", JSON.stringify({ path, format: "convex_encoded_json", args: [{}] }))
        let parsed: { status?: unknown; value?: unknown; errorMessage?: unknown }
        try {
          parsed = JSON.parse(answer.text) as typeof parsed
        } catch {
          return yield* new DeploymentApiError({
            message: `query ${path}: HTTP ${answer.status}, not JSON: ${hide(answer.text)}`
          })
        }
        if (parsed.status === "success") return parsed.value
        return yield* new DeploymentApiError({
          message: `query ${path}: HTTP ${answer.status}: ${hide(String(parsed.errorMessage ?? answer.text))}`
        })
      }),
    setExportExpiration: (id, expirationTsNs) =>
      Effect.gen(function* () {
        const path = `/api/export/set_expiration/${encodeURIComponent(id)}`
        // A u64 beyond 2^53: written as digits, never through a JavaScript number.
        const answer = yield* post(path, `{"expirationTsNs":${expirationTsNs.toString()}}`)
        if (answer.status !== 200) {
          return yield* new DeploymentApiError({ message: `POST ${path}: HTTP ${answer.status}: ${hide(answer.text)}` })
        }
      })
  }
}

export class DeploymentApi extends Context.Tag("convex-operator/snapshot/DeploymentApi")<
  DeploymentApi,
  DeploymentApiService
>() {
  static readonly layer = (target: ConvexTarget): Layer.Layer<DeploymentApi> =>
    Layer.succeed(DeploymentApi, makeDeploymentApi(target))
}
