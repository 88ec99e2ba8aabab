/**
 * A minimal HTTPS client for the local apiserver (admin client cert), with no Kubernetes library:
 * enough for readiness checks, server-side apply and the tests' object helpers.
 */
import * as https from "node:https"
import { Data, Effect } from "effect"

export interface KubeCredentials {
  /** `https://127.0.0.1:<port>` */
  readonly server: string
  readonly ca: string
  readonly cert: string
  readonly key: string
}

export interface KubeRequest {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
  readonly path: string
  /** Serialized as JSON unless it is a string. */
  readonly body?: unknown
  readonly contentType?: string
  /** Default `application/json`. */
  readonly accept?: string
  readonly timeoutMillis?: number
}

export interface KubeResponse {
  readonly status: number
  readonly text: string
  /** The parsed JSON body, or `undefined` when it is not JSON. */
  readonly body: unknown
}

export class KubeTransportError extends Data.TaggedError("KubeTransportError")<{
  readonly request: string
  readonly reason: string
}> {
  override get message() {
    return `${this.request}: ${this.reason}`
  }
}

export interface KubeHttp {
  readonly credentials: KubeCredentials
  readonly request: (request: KubeRequest) => Effect.Effect<KubeResponse, KubeTransportError>
  readonly close: () => void
}

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

export const makeKubeHttp = (credentials: KubeCredentials): KubeHttp => {
  const agent = new https.Agent({
    ca: credentials.ca,
    cert: credentials.cert,
    key: credentials.key,
    keepAlive: true,
    maxSockets: 16
  })
  const request = (req: KubeRequest) =>
    Effect.async<KubeResponse, KubeTransportError>((resume) => {
      const url = new URL(req.path, credentials.server)
      const payload =
        req.body === undefined ? undefined : typeof req.body === "string" ? req.body : JSON.stringify(req.body)
      const headers: Record<string, string> = { accept: req.accept ?? "application/json" }
      if (payload !== undefined) {
        headers["content-type"] = req.contentType ?? "application/json"
        headers["content-length"] = String(Buffer.byteLength(payload))
      }
      const name = `${req.method} ${req.path}`
      const outgoing = https.request(url, { method: req.method, agent, headers }, (response) => {
        const chunks: Array<Buffer> = []
        response.on("data", (chunk: Buffer) => chunks.push(chunk))
        response.on("error", (error) =>
          resume(Effect.fail(new KubeTransportError({ request: name, reason: error.message })))
        )
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          resume(Effect.succeed({ status: response.statusCode ?? 0, text, body: parse(text) }))
        })
      })
      outgoing.setTimeout(req.timeoutMillis ?? 30_000, () =>
        outgoing.destroy(new Error(`no response in ${req.timeoutMillis ?? 30_000} ms`))
      )
      outgoing.on("error", (error) =>
        resume(Effect.fail(new KubeTransportError({ request: name, reason: error.message })))
      )
      outgoing.end(payload)
      return Effect.sync(() => outgoing.destroy())
    })
  return { credentials, request, close: () => agent.destroy() }
}
