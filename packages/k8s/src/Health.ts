/**
 * An HTTP endpoint for the process: `/metrics` (Prometheus text format), `/healthz` (the process
 * answers) and `/readyz` (caches synced and, when leader election is on, leadership held: whatever
 * the `ready` checks say). A scoped resource: the server closes with the scope.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Runtime, type Scope } from "effect"
import { registry as currentRegistry, type Registry } from "./Metrics.js"

export interface HealthOptions {
  /** Default 8080; 0 picks a free port. */
  readonly port?: number
  /** Default "0.0.0.0" (in a Pod); tests use "127.0.0.1". */
  readonly host?: string
  /** Named readiness checks; `/readyz` is 200 when all are true. */
  readonly ready?: Readonly<Record<string, Effect.Effect<boolean>>>
  /** Default: the Metrics service in context (or an empty registry). */
  readonly registry?: Registry
}

export interface HealthServer {
  readonly port: number
  readonly url: string
}

export const serve = (options: HealthOptions = {}): Effect.Effect<HealthServer, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const registry = options.registry ?? (yield* currentRegistry)
    const runtime = yield* Effect.runtime<never>()
    const checks = Object.entries(options.ready ?? {})
    const readiness = Effect.forEach(checks, ([name, check]) =>
      check.pipe(
        Effect.map((ok) => [name, ok] as const),
        Effect.catchAllCause(() => Effect.succeed([name, false] as const))
      )
    )
    const handler = (request: http.IncomingMessage, response: http.ServerResponse) => {
      const path = (request.url ?? "/").split("?")[0]
      if (path === "/metrics") {
        response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" })
        response.end(registry.render())
      } else if (path === "/healthz" || path === "/livez") {
        response.writeHead(200, { "content-type": "text/plain" })
        response.end("ok")
      } else if (path === "/readyz") {
        Runtime.runPromise(runtime)(readiness).then(
          (results) => {
            const failing = results.filter(([, ok]) => !ok).map(([name]) => name)
            response.writeHead(failing.length === 0 ? 200 : 503, { "content-type": "text/plain" })
            response.end(failing.length === 0 ? "ok" : `not ready: ${failing.join(", ")}`)
          },
          () => {
            response.writeHead(503)
            response.end("not ready")
          }
        )
      } else {
        response.writeHead(404)
        response.end("not found")
      }
    }
    const server = yield* Effect.acquireRelease(
      Effect.async<http.Server, Error>((resume) => {
        const server = http.createServer(handler)
        server.once("error", (error) => resume(Effect.fail(error)))
        server.listen(options.port ?? 8080, options.host ?? "0.0.0.0", () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
    const port = (server.address() as AddressInfo).port
    return { port, url: `http://${options.host ?? "127.0.0.1"}:${port}` }
  })
