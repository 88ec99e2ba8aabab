/**
 * The live KubeClient: raw HTTPS to the apiserver, authenticated through client-node's KubeConfig
 * (kubeconfig file, in-cluster service account or explicit settings). The generated API classes are
 * not used: one small request function serves every kind, and watches are streamed line by line.
 */
import * as http from "node:http"
import * as https from "node:https"
import { KubeConfig } from "@kubernetes/client-node"
import { Clock, Duration, Effect, FiberRef, RateLimiter, type Scope, Stream } from "effect"
import {
  fromStatus,
  KubeConfigError,
  type KubeError,
  parseRetryAfter,
  type Status,
  Timeout,
  Transport
} from "../errors.js"
import { type KubeObject, type Resource, path as resourcePath } from "../Resource.js"
import type {
  KubeClientService,
  KubeConfigSource,
  ListOptions,
  ListResult,
  LiveOptions,
  WatchEvent,
  WatchOptions
} from "./client-types.js"
import { decodeObject } from "./decode.js"
import { writeGuard } from "./write-guard.js"

type Query = Record<string, string | number | boolean | undefined>

interface HttpRequest {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
  readonly path: string
  readonly query?: Query
  readonly body?: unknown
  readonly contentType?: string
}

const loadConfig = (source: KubeConfigSource): KubeConfig => {
  const kc = new KubeConfig()
  switch (source._tag) {
    case "Default":
      kc.loadFromDefault()
      break
    case "File":
      kc.loadFromFile(source.path)
      if (source.context !== undefined) kc.setCurrentContext(source.context)
      break
    case "InCluster":
      kc.loadFromCluster()
      break
    case "Explicit": {
      kc.loadFromClusterAndUser(
        {
          name: "explicit",
          server: source.server,
          skipTLSVerify: source.insecureSkipTlsVerify ?? false,
          ...(source.ca === undefined ? {} : { caData: Buffer.from(source.ca).toString("base64") })
        },
        {
          name: "explicit",
          ...(source.cert === undefined ? {} : { certData: Buffer.from(source.cert).toString("base64") }),
          ...(source.key === undefined ? {} : { keyData: Buffer.from(source.key).toString("base64") }),
          ...(source.token === undefined ? {} : { token: source.token })
        }
      )
      break
    }
  }
  return kc
}

/**
 * The namespace kubectl would use without `-n`: the current context's (in a pod, its service account's), else
 * `default`.
 */
export const contextNamespace = (source: KubeConfigSource): Effect.Effect<string, KubeConfigError> =>
  Effect.try({
    try: () => {
      const kc = loadConfig(source)
      return kc.getContextObject(kc.getCurrentContext())?.namespace?.trim() || "default"
    },
    catch: (e) => new KubeConfigError({ message: `loading kubeconfig: ${e instanceof Error ? e.message : String(e)}` })
  })

const encodeQuery = (query: Query | undefined) => {
  if (query === undefined) return ""
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") params.set(k, String(v))
  const s = params.toString()
  return s === "" ? "" : `?${s}`
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

export const makeLive = (options: LiveOptions = {}): Effect.Effect<KubeClientService, KubeConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    const kc = yield* Effect.try({
      try: () => loadConfig(options.source ?? { _tag: "Default" }),
      catch: (e) =>
        new KubeConfigError({ message: `loading kubeconfig: ${e instanceof Error ? e.message : String(e)}` })
    })
    const cluster = kc.getCurrentCluster()
    if (cluster === null) return yield* new KubeConfigError({ message: "the kubeconfig has no current cluster" })
    const server = new URL(cluster.server)
    const secure = server.protocol === "https:"

    const authOptions = () =>
      Effect.tryPromise({
        try: async () => {
          const opts: https.RequestOptions = {}
          await kc.applyToHTTPSOptions(opts)
          return opts
        },
        catch: (e) =>
          new KubeConfigError({ message: `kubeconfig credentials: ${e instanceof Error ? e.message : String(e)}` })
      })
    const initial = yield* authOptions()
    const agentOptions: https.AgentOptions = {
      keepAlive: true,
      ...(initial.ca === undefined ? {} : { ca: initial.ca }),
      ...(initial.cert === undefined ? {} : { cert: initial.cert }),
      ...(initial.key === undefined ? {} : { key: initial.key }),
      ...(initial.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: initial.rejectUnauthorized }),
      ...(initial.servername === undefined ? {} : { servername: initial.servername })
    }
    const makeAgent = (maxSockets: number) =>
      Effect.acquireRelease(
        Effect.sync(() =>
          secure ? new https.Agent({ ...agentOptions, maxSockets }) : new http.Agent({ keepAlive: true, maxSockets })
        ),
        (agent) => Effect.sync(() => agent.destroy())
      )
    const agent = yield* makeAgent(64)
    // Each open watch holds a connection for minutes (HTTP/1.1 has no multiplexing): watches get their own agent
    // without a socket limit, so many of them (one per referenced Secret, say) never queue ordinary requests.
    const watchAgent = yield* makeAgent(Number.POSITIVE_INFINITY)

    // Credentials (tokens from files or exec plugins) are refreshed at most once a minute.
    let cached: { at: number; headers: Record<string, string> } | undefined
    const headersNow = Effect.suspend(() => {
      const now = Date.now()
      if (cached !== undefined && now - cached.at < 60_000) return Effect.succeed(cached.headers)
      return Effect.map(authOptions(), (opts) => {
        const headers: Record<string, string> = {}
        for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v)
        if (opts.auth !== undefined && opts.auth !== null) {
          headers.Authorization = `Basic ${Buffer.from(opts.auth).toString("base64")}`
        }
        cached = { at: now, headers }
        return headers
      })
    }).pipe(Effect.mapError((e) => new Transport({ request: "credentials", message: e.message })))

    const limiter =
      options.rateLimit === false
        ? <A, E, R>(effect: Effect.Effect<A, E, R>) => effect
        : yield* RateLimiter.make({
            limit: options.rateLimit?.burst ?? 30,
            interval: Duration.millis(((options.rateLimit?.burst ?? 30) / (options.rateLimit?.qps ?? 20)) * 1000),
            algorithm: "token-bucket"
          })
    const requestTimeout = Duration.decode(options.requestTimeout ?? "30 seconds")
    const userAgent = options.userAgent ?? "convex-operator-k8s/0.1"

    /** Sends one request; resolves with the response once its headers arrived. */
    const open = (req: HttpRequest, name: string, via: http.Agent = agent) =>
      Effect.flatMap(headersNow, (auth) =>
        Effect.async<http.IncomingMessage & { readonly destroyRequest: () => void }, KubeError>((resume) => {
          const payload =
            req.body === undefined ? undefined : typeof req.body === "string" ? req.body : JSON.stringify(req.body)
          const headers: Record<string, string> = { ...auth, accept: "application/json", "user-agent": userAgent }
          if (payload !== undefined) {
            headers["content-type"] = req.contentType ?? "application/json"
            headers["content-length"] = String(Buffer.byteLength(payload))
          }
          const url = new URL(`${req.path}${encodeQuery(req.query)}`, server)
          const send = secure ? https.request : http.request
          const outgoing = send(url, { method: req.method, agent: via, headers }, (response) => {
            resume(Effect.succeed(Object.assign(response, { destroyRequest: () => outgoing.destroy() })))
          })
          outgoing.on("error", (error) => resume(Effect.fail(new Transport({ request: name, message: error.message }))))
          outgoing.end(payload)
          return Effect.sync(() => outgoing.destroy())
        })
      )

    /**
     * The error of a non-2xx answer. Its `Retry-After` (a 429 from priority and fairness, say) is kept on the error
     * and not waited for here: the caller's scheduler (the key's backoff, the watcher's) waits, so that no request
     * sleeps inside the client.
     */
    const failure = (response: http.IncomingMessage, name: string, text: string) =>
      Effect.map(Clock.currentTimeMillis, (now) =>
        fromStatus(
          name,
          response.statusCode ?? 0,
          (parseJson(text) as Status | undefined) ?? { message: text.slice(0, 500) },
          parseRetryAfter(response.headers["retry-after"], now)
        )
      )

    const readBody = (response: http.IncomingMessage, name: string) =>
      Effect.async<string, KubeError>((resume) => {
        const chunks: Array<Buffer> = []
        response.on("data", (chunk: Buffer) => chunks.push(chunk))
        response.on("end", () => resume(Effect.succeed(Buffer.concat(chunks).toString("utf8"))))
        response.on("error", (error) => resume(Effect.fail(new Transport({ request: name, message: error.message }))))
        response.on("aborted", () => resume(Effect.fail(new Transport({ request: name, message: "response aborted" }))))
        return Effect.sync(() => response.destroy())
      })

    const call = (req: HttpRequest): Effect.Effect<unknown, KubeError> => {
      const name = `${req.method} ${req.path}`
      return limiter(
        Effect.gen(function* () {
          // A write passes the write guard after its wait for the rate limiter, right before it is sent.
          if (req.method !== "GET") yield* Effect.flatten(FiberRef.get(writeGuard))
          const response = yield* open(req, name)
          const text = yield* readBody(response, name)
          const code = response.statusCode ?? 0
          if (code >= 200 && code < 300) return parseJson(text)
          return yield* Effect.fail(yield* failure(response, name, text))
        }).pipe(
          Effect.timeoutFail({
            duration: requestTimeout,
            onTimeout: () => new Timeout({ request: name, message: `no answer in ${Duration.format(requestTimeout)}` })
          })
        )
      )
    }

    const decodeOne =
      <A extends KubeObject>(resource: Resource<A>, name: string) =>
      (body: unknown) =>
        decodeObject(resource, name, body)

    const list = <A extends KubeObject>(resource: Resource<A>, opts: ListOptions = {}) => {
      const path = resourcePath(resource, { namespace: opts.namespace })
      return call({
        method: "GET",
        path,
        query: {
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          limit: opts.limit,
          continue: opts.continue,
          resourceVersion: opts.resourceVersion,
          resourceVersionMatch: opts.resourceVersionMatch
        }
      }).pipe(
        Effect.flatMap((body) => {
          const list = body as {
            items?: Array<Record<string, unknown>>
            metadata?: { resourceVersion?: string; continue?: string }
          }
          // Lists omit apiVersion/kind on items; put them back so objects stand alone.
          const items = (list.items ?? []).map((item) => ({
            apiVersion: resource.apiVersion,
            kind: resource.kind,
            ...item
          }))
          return Effect.map(
            Effect.forEach(items, decodeOne(resource, `GET ${path}`)),
            (decoded): ListResult<A> => ({
              items: decoded,
              resourceVersion: list.metadata?.resourceVersion ?? "",
              ...(list.metadata?.continue ? { continue: list.metadata.continue } : {})
            })
          )
        })
      )
    }

    const watch = <A extends KubeObject>(
      resource: Resource<A>,
      opts: WatchOptions = {}
    ): Stream.Stream<WatchEvent<A>, KubeError> => {
      const path = resourcePath(resource, { namespace: opts.namespace })
      const name = `WATCH ${path}`
      const req: HttpRequest = {
        method: "GET",
        path,
        query: {
          watch: 1,
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          resourceVersion: opts.resourceVersion,
          allowWatchBookmarks: opts.allowWatchBookmarks,
          timeoutSeconds: opts.timeoutSeconds
        }
      }
      type Raw = { type: string; object: Record<string, unknown> }
      const lines = Stream.unwrapScoped(
        Effect.gen(function* () {
          // Interruptible: a stalled connection (no TLS handshake, no headers) must yield to the idle timeout.
          const response = yield* Effect.acquireRelease(
            Effect.interruptible(limiter(open(req, name, watchAgent))),
            (r) =>
              Effect.sync(() => {
                r.destroyRequest()
                r.destroy()
              })
          )
          const code = response.statusCode ?? 0
          if (code < 200 || code >= 300) {
            const text = yield* readBody(response, name)
            return yield* Effect.fail(yield* failure(response, name, text))
          }
          return Stream.async<Raw, KubeError>((emit) => {
            let buffer = ""
            response.setEncoding("utf8")
            response.on("data", (chunk: string) => {
              buffer += chunk
              let newline = buffer.indexOf("\n")
              while (newline >= 0) {
                const line = buffer.slice(0, newline).trim()
                buffer = buffer.slice(newline + 1)
                if (line !== "") {
                  const parsed = parseJson(line) as Raw | undefined
                  if (parsed === undefined) {
                    void emit.fail(
                      new Transport({ request: name, message: `malformed watch line: ${line.slice(0, 200)}` })
                    )
                    return
                  }
                  void emit.single(parsed)
                }
                newline = buffer.indexOf("\n")
              }
            })
            response.on("end", () => void emit.end())
            response.on("aborted", () => void emit.fail(new Transport({ request: name, message: "watch aborted" })))
            response.on("error", (error) => void emit.fail(new Transport({ request: name, message: error.message })))
          }, "unbounded")
        })
      )
      return lines.pipe(
        Stream.mapEffect((raw): Effect.Effect<WatchEvent<A>, KubeError> => {
          switch (raw.type) {
            case "ERROR": {
              const status = raw.object as Status
              return Effect.fail(fromStatus(name, status.code ?? 500, status))
            }
            case "BOOKMARK":
              return Effect.succeed({
                type: "BOOKMARK",
                resourceVersion: String(
                  (raw.object.metadata as { resourceVersion?: string } | undefined)?.resourceVersion ?? ""
                )
              })
            case "ADDED":
            case "MODIFIED":
            case "DELETED": {
              const type = raw.type
              return Effect.map(decodeObject(resource, name, raw.object), (object) => ({ type, object }))
            }
            default:
              return Effect.fail(new Transport({ request: name, message: `unknown watch event type ${raw.type}` }))
          }
        })
      )
    }

    const one = <A extends KubeObject>(resource: Resource<A>, req: HttpRequest) =>
      Effect.flatMap(call(req), decodeOne(resource, `${req.method} ${req.path}`))

    const client: KubeClientService = {
      get: (resource, name, opts = {}) =>
        one(resource, { method: "GET", path: resourcePath(resource, { namespace: opts.namespace, name }) }),
      list,
      listAll: (resource, opts = {}) =>
        Effect.gen(function* () {
          const { pageSize, ...rest } = opts
          let page = yield* list(resource, { ...rest, limit: pageSize ?? 500 })
          const items = [...page.items]
          const resourceVersion = page.resourceVersion
          while (page.continue !== undefined) {
            page = yield* list(resource, { ...rest, limit: pageSize ?? 500, continue: page.continue })
            items.push(...page.items)
          }
          return { items, resourceVersion }
        }),
      watch,
      create: (resource, object, opts = {}) =>
        one(resource, {
          method: "POST",
          path: resourcePath(resource, { namespace: object.metadata.namespace }),
          query: { fieldManager: opts.fieldManager, dryRun: opts.dryRun === true ? "All" : undefined },
          body: object
        }),
      replace: (resource, object, opts = {}) =>
        one(resource, {
          method: "PUT",
          path: resourcePath(resource, {
            namespace: object.metadata.namespace,
            name: object.metadata.name,
            subresource: opts.subresource
          }),
          query: { fieldManager: opts.fieldManager, dryRun: opts.dryRun === true ? "All" : undefined },
          body: object
        }),
      apply: (resource, object, opts) =>
        one(resource, {
          method: "PATCH",
          path: resourcePath(resource, {
            namespace: object.metadata.namespace,
            name: object.metadata.name,
            subresource: opts.subresource
          }),
          query: {
            fieldManager: opts.fieldManager,
            force: opts.force === true ? true : undefined,
            dryRun: opts.dryRun === true ? "All" : undefined
          },
          body: object,
          contentType: "application/apply-patch+yaml"
        }),
      patch: (resource, name, patch, opts) =>
        one(resource, {
          method: "PATCH",
          path: resourcePath(resource, { namespace: opts.namespace, name, subresource: opts.subresource }),
          query: { fieldManager: opts.fieldManager },
          body: patch,
          contentType: opts.type === "merge" ? "application/merge-patch+json" : "application/json-patch+json"
        }),
      patchStatus: (resource, name, status, opts = {}) =>
        one(resource, {
          method: "PATCH",
          path: resourcePath(resource, { namespace: opts.namespace, name, subresource: "status" }),
          query: { fieldManager: opts.fieldManager },
          body: {
            status,
            ...(opts.resourceVersion === undefined ? {} : { metadata: { resourceVersion: opts.resourceVersion } })
          },
          contentType: "application/merge-patch+json"
        }),
      delete: (resource, name, opts = {}) =>
        Effect.asVoid(
          call({
            method: "DELETE",
            path: resourcePath(resource, { namespace: opts.namespace, name }),
            body: {
              apiVersion: "v1",
              kind: "DeleteOptions",
              ...(opts.propagationPolicy === undefined ? {} : { propagationPolicy: opts.propagationPolicy }),
              ...(opts.preconditions === undefined ? {} : { preconditions: opts.preconditions }),
              ...(opts.gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds: opts.gracePeriodSeconds })
            }
          })
        )
    }
    return client
  })
