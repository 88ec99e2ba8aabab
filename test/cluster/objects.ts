/**
 * Generic object operations over {@link KubeHttp}: resource paths from discovery, server-side apply,
 * create/get/delete, and the apiserver's `Status` as a typed error (so tests can read the message
 * and field causes of a rejected object).
 */
import { Data, Effect } from "effect"
import type { KubeHttp, KubeResponse, KubeTransportError } from "./kube-http.js"

export interface KubeObject {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: { readonly name?: string; readonly namespace?: string; readonly [key: string]: unknown }
  readonly [key: string]: unknown
}

export interface StatusCause {
  readonly reason?: string
  readonly message?: string
  readonly field?: string
}

/** A non-2xx answer: the HTTP code plus the fields of the apiserver's `Status`. */
export class KubeStatusError extends Data.TaggedError("KubeStatusError")<{
  readonly request: string
  readonly code: number
  readonly reason: string
  readonly statusMessage: string
  readonly causes: ReadonlyArray<StatusCause>
  readonly body: unknown
}> {
  override get message() {
    return `${this.request}: ${this.code} ${this.reason}: ${this.statusMessage}`
  }
}

export type ObjectError = KubeStatusError | KubeTransportError

interface ApiResource {
  readonly name: string
  readonly kind: string
  readonly namespaced: boolean
}

export interface ResourceRef {
  readonly apiVersion: string
  readonly kind: string
  readonly namespace?: string
}

export interface ApplyOptions {
  readonly fieldManager?: string
  readonly force?: boolean
  readonly dryRun?: boolean
}

export const defaultFieldManager = "convex-operator-tests"

const toStatusError = (request: string, response: KubeResponse): KubeStatusError => {
  const status = (response.body ?? {}) as {
    reason?: string
    message?: string
    details?: { causes?: ReadonlyArray<StatusCause> }
  }
  return new KubeStatusError({
    request,
    code: response.status,
    reason: status.reason ?? "Unknown",
    statusMessage: status.message ?? response.text.slice(0, 500),
    causes: status.details?.causes ?? [],
    body: response.body
  })
}

const apiPrefix = (apiVersion: string) => (apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`)

export const makeObjects = (http: KubeHttp) => {
  const discovery = new Map<string, ReadonlyArray<ApiResource>>()

  /** Sends a request; a non-2xx answer fails with {@link KubeStatusError}. */
  const call = (method: "GET" | "POST" | "PATCH" | "DELETE", path: string, body?: unknown, contentType?: string) => {
    const request = `${method} ${path}`
    return http
      .request({
        method,
        path,
        ...(body === undefined ? {} : { body }),
        ...(contentType === undefined ? {} : { contentType })
      })
      .pipe(
        Effect.flatMap((response) =>
          response.status >= 200 && response.status < 300
            ? Effect.succeed(response.body)
            : Effect.fail(toStatusError(request, response))
        )
      )
  }

  const fetchResources = (apiVersion: string) =>
    call("GET", apiPrefix(apiVersion)).pipe(
      Effect.map((body) =>
        ((body as { resources?: ReadonlyArray<ApiResource> }).resources ?? []).filter((r) => !r.name.includes("/"))
      ),
      Effect.tap((resources) => Effect.sync(() => discovery.set(apiVersion, resources)))
    )

  /** The resource for `apiVersion`/`kind`, from discovery (fetched again on a miss: CRDs come and go). */
  const resourceFor = (apiVersion: string, kind: string) =>
    Effect.gen(function* () {
      const cached = discovery.get(apiVersion)?.find((r) => r.kind === kind)
      if (cached !== undefined) return cached
      const resources = yield* fetchResources(apiVersion)
      const found = resources.find((r) => r.kind === kind)
      if (found === undefined) {
        return yield* Effect.fail(
          new KubeStatusError({
            request: `discovery ${apiVersion}`,
            code: 404,
            reason: "NotFound",
            statusMessage: `the server has no kind ${kind} in ${apiVersion}`,
            causes: [],
            body: undefined
          })
        )
      }
      return found
    })

  const collectionPath = (ref: ResourceRef) =>
    Effect.map(resourceFor(ref.apiVersion, ref.kind), (resource) => {
      const namespace = resource.namespaced ? (ref.namespace ?? "default") : undefined
      return `${apiPrefix(ref.apiVersion)}${namespace === undefined ? "" : `/namespaces/${namespace}`}/${resource.name}`
    })

  const objectPath = (ref: ResourceRef, name: string) =>
    Effect.map(collectionPath(ref), (collection) => `${collection}/${encodeURIComponent(name)}`)

  const refOf = (object: KubeObject): ResourceRef => ({
    apiVersion: object.apiVersion,
    kind: object.kind,
    ...(object.metadata.namespace === undefined ? {} : { namespace: object.metadata.namespace })
  })

  const nameOf = (object: KubeObject) => {
    const name = object.metadata.name
    return name === undefined ? Effect.die(new Error(`${object.kind} has no metadata.name`)) : Effect.succeed(name)
  }

  const query = (options: ApplyOptions, apply: boolean) => {
    const params = new URLSearchParams({ fieldManager: options.fieldManager ?? defaultFieldManager })
    if (apply && (options.force ?? true)) params.set("force", "true")
    if (options.dryRun === true) params.set("dryRun", "All")
    return `?${params.toString()}`
  }

  /** Server-side apply (`force` defaults to true). Resolves to the object the server stored. */
  const apply = (object: KubeObject, options: ApplyOptions = {}) =>
    Effect.gen(function* () {
      const path = yield* objectPath(refOf(object), yield* nameOf(object))
      return (yield* call(
        "PATCH",
        `${path}${query(options, true)}`,
        object,
        "application/apply-patch+yaml"
      )) as KubeObject
    })

  const create = (object: KubeObject, options: Omit<ApplyOptions, "force"> = {}) =>
    Effect.gen(function* () {
      const path = yield* collectionPath(refOf(object))
      return (yield* call("POST", `${path}${query(options, false)}`, object)) as KubeObject
    })

  const get = (ref: ResourceRef, name: string) =>
    Effect.flatMap(objectPath(ref, name), (path) => call("GET", path)) as Effect.Effect<KubeObject, ObjectError>

  const list = (ref: ResourceRef) =>
    Effect.flatMap(collectionPath(ref), (path) => call("GET", path)).pipe(
      Effect.map((body) => ((body as { items?: ReadonlyArray<KubeObject> }).items ?? []) as ReadonlyArray<KubeObject>)
    )

  const remove = (ref: ResourceRef, name: string) =>
    Effect.flatMap(objectPath(ref, name), (path) => call("DELETE", `${path}?propagationPolicy=Background`))

  return { call, resourceFor, collectionPath, objectPath, apply, create, get, list, remove }
}

export type Objects = ReturnType<typeof makeObjects>

/** The condition `type` of an object's `status.conditions`, if present. */
export const conditionStatus = (object: unknown, type: string): string | undefined => {
  const conditions = (object as { status?: { conditions?: ReadonlyArray<{ type?: string; status?: string }> } })?.status
    ?.conditions
  return conditions?.find((c) => c.type === type)?.status
}
