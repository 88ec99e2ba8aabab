/**
 * An in-memory apiserver: enough of Kubernetes' storage semantics for controller tests, checked
 * against a real apiserver by the shared contract suite (packages/k8s/test/contract).
 *
 * resourceVersion (one global counter) and generation; the status subresource; server-side apply
 * with per-manager field ownership (maps merge, lists are atomic), conflicts and force; optimistic
 * concurrency; finalizers and deletionTimestamp; propagation policies and ownerReference garbage
 * collection (synchronous); watches with label/field selectors, bookmarks, and 410 Gone once the
 * history is compacted; paginated lists whose continue tokens expire with compaction. Tests can make it fail
 * requests (`failNext`) or deny permissions as RBAC would (`forbid`).
 */
import { Clock, Deferred, Duration, Effect, Queue, Stream } from "effect"
import { Conflict, Forbidden, Gone, Invalid, type KubeError, NotFound, Transport } from "../errors.js"
import { type KubeObject, key as objectKey, type Resource, type ResourceType } from "../Resource.js"
import type {
  ApplyOptions,
  DeleteOptions,
  KubeClientService,
  ListOptions,
  ListResult,
  MemoryApiServerService,
  MemoryOptions,
  PatchOptions,
  WatchEvent,
  WatchOptions,
  WriteOptions
} from "./client-types.js"
import { decodeObject } from "./decode.js"
import {
  clone,
  deepEqual,
  deepMerge,
  deletePath,
  getPath,
  isObject,
  type JsonPatchOp,
  jsonPatch,
  leaves,
  mergePatch,
  type Path
} from "./json.js"
import { objectFilter } from "./selectors.js"

type Obj = { [key: string]: unknown; metadata: Meta }
type Meta = { [key: string]: unknown }
type Fields = Map<string, Path>

interface Stored {
  object: Obj
  /** `manager \0 operation \0 subresource` → owned leaf paths. */
  readonly managers: Map<string, Fields>
}

interface LogEntry {
  readonly rv: number
  readonly rid: string
  readonly type: "ADDED" | "MODIFIED" | "DELETED"
  readonly object: Obj
  readonly previous: Obj | undefined
}

type Item =
  | { readonly _tag: "event"; readonly event: WatchEvent<KubeObject> }
  | { readonly _tag: "fail"; readonly error: KubeError }

interface Watch {
  readonly rid: string
  readonly namespace: string | undefined
  readonly filter: (object: KubeObject) => boolean
  readonly bookmarks: boolean
  readonly queue: Queue.Queue<Item>
}

const systemMeta = [
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "managedFields",
  "selfLink"
]

/** Built-in kinds that have no `metadata.generation`. */
const withoutGeneration = new Set([
  "/configmaps",
  "/secrets",
  "/services",
  "/serviceaccounts",
  "/endpoints",
  "/namespaces",
  "/events",
  "events.k8s.io/events",
  "coordination.k8s.io/leases"
])

const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

const rfc3339 = (millis: number) => `${new Date(millis).toISOString().slice(0, 19)}Z`

const randomSuffix = () => {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789"
  let out = ""
  for (let i = 0; i < 5; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)]
  return out
}

const uuid = () => globalThis.crypto.randomUUID()

const specChanged = (a: Obj, b: Obj) => {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  for (const k of keys) {
    if (k === "metadata" || k === "status" || k === "apiVersion" || k === "kind") continue
    if (!deepEqual(a[k], b[k])) return true
  }
  return false
}

/** Same field in either direction: one path is a prefix of the other. */
const overlaps = (a: Path, b: Path) => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false
  return true
}

const managerKey = (manager: string, operation: "Apply" | "Update", subresource: string | undefined) =>
  `${manager}\u0000${operation}\u0000${subresource ?? ""}`

/** `metadata.managedFields` in the apiserver's shape (FieldsV1), from owned leaf paths. */
const managedFieldsOf = (stored: Stored, apiVersion: string, time: string) =>
  [...stored.managers.entries()]
    .filter(([, fields]) => fields.size > 0)
    .map(([k, fields]) => {
      const [manager, operation, subresource] = k.split("\u0000")
      const fieldsV1: Record<string, unknown> = {}
      for (const path of fields.values()) {
        let node = fieldsV1
        for (const segment of path) {
          const f = `f:${segment}`
          node[f] = node[f] ?? {}
          node = node[f] as Record<string, unknown>
        }
      }
      return {
        manager,
        operation,
        apiVersion,
        time,
        fieldsType: "FieldsV1",
        fieldsV1,
        ...(subresource === "" ? {} : { subresource })
      }
    })

class Fail {
  constructor(readonly error: KubeError) {}
}

export const makeMemory = (options: MemoryOptions = {}) =>
  Effect.sync(() => {
    const historyLimit = options.historyLimit ?? 10_000
    const tables = new Map<string, Map<string, Stored>>()
    const apiVersions = new Map<string, string>()
    const log: Array<LogEntry> = []
    const watches = new Set<Watch>()
    const requests: Array<string> = []
    let rv = 1000
    let compactedRv = 0
    let stall: Deferred.Deferred<void> | undefined
    let failures: { count: number; error: (request: string) => KubeError } | undefined
    let denials: ReadonlyArray<{ readonly verb: string; readonly resource: string; readonly namespace?: string }> = []

    const ridOf = (resource: ResourceType) => `${resource.group}/${resource.plural}`
    const table = (rid: string) => {
      let t = tables.get(rid)
      if (t === undefined) {
        t = new Map()
        tables.set(rid, t)
      }
      return t
    }
    const fail = (error: KubeError): never => {
      throw new Fail(error)
    }
    const nsOf = (resource: ResourceType, namespace: string | undefined) =>
      resource.namespaced ? (namespace ?? "default") : undefined

    /** Fails with RBAC's Forbidden when `forbid` denies `verb` on the resource (and subresource) in `namespace`. */
    const authorize = (
      request: string,
      verb: string,
      resource: ResourceType,
      namespace: string | undefined,
      name?: string,
      subresource?: string
    ) => {
      const plural = subresource === undefined ? resource.plural : `${resource.plural}/${subresource}`
      const denied = denials.some(
        (denial) =>
          denial.verb === verb &&
          denial.resource === plural &&
          (denial.namespace === undefined || denial.namespace === namespace)
      )
      if (!denied) return
      const qualified = resource.group === "" ? resource.plural : `${resource.plural}.${resource.group}`
      const scope = namespace === undefined ? "at the cluster scope" : `in the namespace "${namespace}"`
      fail(
        new Forbidden({
          request,
          code: 403,
          message: `${qualified}${name === undefined ? "" : ` "${name}"`} is forbidden: User "system:serviceaccount:memory:test" cannot ${verb} resource "${plural}" in API group "${resource.group}" ${scope}`
        })
      )
    }

    /** Runs one request: counts it, honours `failNext`, turns thrown `Fail`s into failures. */
    const run = <A>(request: string, body: (now: number) => A): Effect.Effect<A, KubeError> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        requests.push(request)
        if (failures !== undefined && failures.count > 0) {
          failures.count--
          return Effect.fail(failures.error(request))
        }
        try {
          return Effect.succeed(body(now))
        } catch (e) {
          if (e instanceof Fail) return Effect.fail(e.error)
          return Effect.die(e)
        }
      })

    const output = (stored: Stored, rid: string): KubeObject => {
      const object = clone(stored.object)
      const time = String(object.metadata.creationTimestamp ?? "")
      const managed = managedFieldsOf(stored, apiVersions.get(rid) ?? String(object.apiVersion), time)
      if (managed.length > 0) object.metadata.managedFields = managed
      return object as unknown as KubeObject
    }

    // --- watch fan-out ---------------------------------------------------------------------------

    const deliver = (watch: Watch, entry: LogEntry) => {
      if (watch.rid !== entry.rid) return
      if (watch.namespace !== undefined && entry.object.metadata.namespace !== watch.namespace) return
      const object = clone(entry.object) as unknown as KubeObject
      const now = watch.filter(object)
      const before = entry.previous !== undefined && watch.filter(entry.previous as unknown as KubeObject)
      let type: "ADDED" | "MODIFIED" | "DELETED" | undefined
      if (entry.type === "ADDED") type = now ? "ADDED" : undefined
      else if (entry.type === "DELETED") type = before || now ? "DELETED" : undefined
      else type = before && now ? "MODIFIED" : now ? "ADDED" : before ? "DELETED" : undefined
      if (type !== undefined) Queue.unsafeOffer(watch.queue, { _tag: "event", event: { type, object } })
    }

    const record = (rid: string, type: LogEntry["type"], object: Obj, previous: Obj | undefined) => {
      const entry: LogEntry = { rv, rid, type, object: clone(object), previous: clone(previous) }
      log.push(entry)
      if (log.length > historyLimit) {
        const dropped = log.splice(0, log.length - historyLimit)
        compactedRv = dropped[dropped.length - 1]?.rv ?? compactedRv
      }
      for (const watch of watches) deliver(watch, entry)
    }

    // --- writes ----------------------------------------------------------------------------------

    const tracksGeneration = (rid: string) => !withoutGeneration.has(rid)

    /** Stores `next` as the new state of an existing object (or deletes it when its last finalizer is gone). */
    const commit = (rid: string, key: string, stored: Stored, next: Obj, now: number): Obj => {
      const previous = stored.object
      const changed = !deepEqual(
        { ...previous, metadata: { ...previous.metadata, resourceVersion: undefined } },
        {
          ...next,
          metadata: { ...next.metadata, resourceVersion: undefined }
        }
      )
      if (!changed) return previous
      if (tracksGeneration(rid) && specChanged(previous, next)) {
        next.metadata.generation = Number(previous.metadata.generation ?? 0) + 1
      }
      rv++
      next.metadata.resourceVersion = String(rv)
      const finalizers = (next.metadata.finalizers as ReadonlyArray<string> | undefined) ?? []
      if (next.metadata.deletionTimestamp !== undefined && finalizers.length === 0) {
        table(rid).delete(key)
        stored.object = next
        record(rid, "DELETED", next, previous)
        collectGarbage(now)
        return next
      }
      stored.object = next
      record(rid, "MODIFIED", next, previous)
      return next
    }

    const checkName = (kind: string, name: unknown) => {
      if (typeof name !== "string" || name === "") {
        return fail(
          new Invalid({
            request: "",
            message: `${kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
            code: 422,
            reason: "Invalid",
            causes: [
              {
                reason: "FieldValueRequired",
                message: "Required value: name or generateName is required",
                field: "metadata.name"
              }
            ]
          })
        )
      }
      if (name.length > 253 || !dnsSubdomain.test(name)) {
        const message = `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`
        return fail(
          new Invalid({
            request: "",
            message: `${kind} "${name}" is invalid: metadata.name: ${message}`,
            code: 422,
            reason: "Invalid",
            causes: [{ reason: "FieldValueInvalid", message, field: "metadata.name" }]
          })
        )
      }
      return name
    }

    const checkIdentity = (resource: ResourceType, body: KubeObject, request: string) => {
      if (body.apiVersion !== resource.apiVersion || body.kind !== resource.kind) {
        fail(
          new Invalid({
            request,
            message: `the API version in the data (${body.apiVersion}) and kind (${body.kind}) do not match ${resource.apiVersion} ${resource.kind}`,
            code: 400,
            reason: "BadRequest",
            causes: []
          })
        )
      }
    }

    /** Update-operation ownership: changed leaves move to `manager`, removed leaves leave everyone. */
    const recordUpdate = (
      stored: Stored,
      manager: string,
      subresource: string | undefined,
      before: Obj,
      after: Obj
    ) => {
      const strip = (o: Obj) => {
        const copy: Record<string, unknown> = { ...o, metadata: { ...o.metadata } }
        delete copy.apiVersion
        delete copy.kind
        const meta = copy.metadata as Meta
        for (const k of [...systemMeta, "name", "namespace"]) delete meta[k]
        if (Object.keys(meta).length === 0) delete copy.metadata
        return copy
      }
      const oldLeaves = leaves(strip(before))
      const newLeaves = leaves(strip(after))
      const mine = stored.managers.get(managerKey(manager, "Update", subresource)) ?? new Map<string, Path>()
      for (const [k, path] of newLeaves) {
        if (oldLeaves.has(k) && deepEqual(getPath(before, path), getPath(after, path))) continue
        for (const [, fields] of stored.managers) {
          for (const [fk, fp] of fields) if (overlaps(fp, path)) fields.delete(fk)
        }
        mine.set(k, path)
      }
      for (const [k, path] of oldLeaves) {
        if (newLeaves.has(k)) continue
        for (const [, fields] of stored.managers) {
          for (const [fk, fp] of fields) if (overlaps(fp, path) && !newLeaves.has(fk)) fields.delete(fk)
        }
      }
      stored.managers.set(managerKey(manager, "Update", subresource), mine)
    }

    const insert = (
      resource: ResourceType,
      body: KubeObject,
      namespace: string | undefined,
      now: number,
      request: string,
      owner: (stored: Stored) => void
    ): Obj => {
      checkIdentity(resource, body, request)
      const rid = ridOf(resource)
      apiVersions.set(rid, resource.apiVersion)
      const object = clone(body) as unknown as Obj
      object.metadata = { ...object.metadata }
      const meta = object.metadata
      if (resource.namespaced) {
        if (meta.namespace !== undefined && namespace !== undefined && meta.namespace !== namespace) {
          fail(
            new Invalid({
              request,
              message: "the namespace of the provided object does not match the namespace sent on the request",
              code: 400,
              reason: "BadRequest",
              causes: []
            })
          )
        }
        meta.namespace = meta.namespace ?? namespace ?? "default"
      } else delete meta.namespace
      if ((meta.name === undefined || meta.name === "") && typeof meta.generateName === "string") {
        meta.name = `${meta.generateName}${randomSuffix()}`
      }
      const name = checkName(resource.kind, meta.name)
      const key = objectKey(meta.namespace as string | undefined, name)
      if (table(rid).has(key)) {
        fail(
          new Conflict({
            request,
            message: `${resource.plural}${resource.group === "" ? "" : `.${resource.group}`} "${name}" already exists`,
            reason: "AlreadyExists",
            causes: []
          })
        )
      }
      for (const k of systemMeta) delete meta[k]
      delete object.status
      meta.uid = uuid()
      meta.creationTimestamp = rfc3339(now)
      if (tracksGeneration(rid)) meta.generation = 1
      rv++
      meta.resourceVersion = String(rv)
      const stored: Stored = { object, managers: new Map() }
      owner(stored)
      table(rid).set(key, stored)
      record(rid, "ADDED", object, undefined)
      if (Array.isArray(meta.ownerReferences) && meta.ownerReferences.length > 0) collectGarbage(now)
      return object
    }

    const find = (resource: ResourceType, name: string, namespace: string | undefined, request: string) => {
      const rid = ridOf(resource)
      const key = objectKey(nsOf(resource, namespace), name)
      const stored = table(rid).get(key)
      if (stored === undefined) {
        return fail(
          new NotFound({
            request,
            message: `${resource.plural}${resource.group === "" ? "" : `.${resource.group}`} "${name}" not found`
          })
        )
      }
      return { rid, key, stored }
    }

    /** A write to an existing object through the main resource or the status subresource. */
    const update = (
      rid: string,
      key: string,
      stored: Stored,
      proposed: Obj,
      subresource: string | undefined,
      now: number,
      request: string
    ): Obj => {
      const current = stored.object
      let next: Obj
      if (subresource === "status") {
        next = { ...clone(current), status: clone(proposed.status) }
        if (proposed.status === undefined) delete next.status
      } else {
        next = clone(proposed)
        next.metadata = { ...next.metadata }
        if (current.status === undefined) delete next.status
        else next.status = clone(current.status)
        for (const k of systemMeta) {
          if (k === "resourceVersion" || k === "managedFields") continue
          if (current.metadata[k] === undefined) delete next.metadata[k]
          else next.metadata[k] = current.metadata[k]
        }
        next.metadata.name = current.metadata.name
        if (current.metadata.namespace !== undefined) next.metadata.namespace = current.metadata.namespace
        if (current.metadata.deletionTimestamp !== undefined) {
          const before = new Set((current.metadata.finalizers as ReadonlyArray<string> | undefined) ?? [])
          const added = ((next.metadata.finalizers as ReadonlyArray<string> | undefined) ?? []).filter(
            (f) => !before.has(f)
          )
          if (added.length > 0) {
            fail(
              new Invalid({
                request,
                message: `metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
                code: 422,
                reason: "Invalid",
                causes: [{ reason: "FieldValueForbidden", field: "metadata.finalizers" }]
              })
            )
          }
        }
      }
      delete next.metadata.managedFields
      next.metadata.resourceVersion = current.metadata.resourceVersion
      return commit(rid, key, stored, next, now)
    }

    const checkResourceVersion = (stored: Stored, expected: unknown, request: string) => {
      if (expected !== undefined && expected !== "" && expected !== stored.object.metadata.resourceVersion) {
        fail(
          new Conflict({
            request,
            message: `Operation cannot be fulfilled on ${request}: the object has been modified; please apply your changes to the latest version and try again`,
            reason: "Conflict",
            causes: []
          })
        )
      }
    }

    // --- deletion and garbage collection -------------------------------------------------------

    const uidIndex = () => {
      const index = new Map<string, { rid: string; key: string; stored: Stored }>()
      for (const [rid, t] of tables)
        for (const [key, stored] of t) index.set(String(stored.object.metadata.uid), { rid, key, stored })
      return index
    }

    const remove = (
      rid: string,
      key: string,
      stored: Stored,
      policy: DeleteOptions["propagationPolicy"],
      now: number
    ) => {
      const current = stored.object
      const finalizers = [...((current.metadata.finalizers as ReadonlyArray<string> | undefined) ?? [])]
      if (policy === "Foreground" && !finalizers.includes("foregroundDeletion")) finalizers.push("foregroundDeletion")
      if (policy === "Orphan" && !finalizers.includes("orphan")) finalizers.push("orphan")
      if (finalizers.length === 0) {
        rv++
        const gone = clone(current)
        gone.metadata.resourceVersion = String(rv)
        table(rid).delete(key)
        stored.object = gone
        record(rid, "DELETED", gone, current)
        collectGarbage(now)
        return
      }
      const next = clone(current)
      next.metadata.finalizers = finalizers
      if (next.metadata.deletionTimestamp === undefined) {
        next.metadata.deletionTimestamp = rfc3339(now)
        next.metadata.deletionGracePeriodSeconds = 0
        if (next.metadata.generation !== undefined) next.metadata.generation = Number(next.metadata.generation) + 1
      }
      commit(rid, key, stored, next, now)
      collectGarbage(now)
    }

    const removeFinalizer = (rid: string, key: string, stored: Stored, finalizer: string, now: number) => {
      const next = clone(stored.object)
      next.metadata.finalizers = ((next.metadata.finalizers as ReadonlyArray<string> | undefined) ?? []).filter(
        (f) => f !== finalizer
      )
      if ((next.metadata.finalizers as ReadonlyArray<string>).length === 0) delete next.metadata.finalizers
      commit(rid, key, stored, next, now)
    }

    let collecting = false
    /** The garbage collector's job, done at once: dependents of vanished owners, foreground and orphan deletion. */
    const collectGarbage = (now: number) => {
      if (collecting) return
      collecting = true
      try {
        for (let changed = true; changed; ) {
          changed = false
          const byUid = uidIndex()
          const dependents = (uid: string) =>
            [...byUid.values()].filter((e) =>
              ((e.stored.object.metadata.ownerReferences as ReadonlyArray<{ uid: string }> | undefined) ?? []).some(
                (r) => r.uid === uid
              )
            )
          for (const { rid, key, stored } of byUid.values()) {
            const meta = stored.object.metadata
            const finalizers = (meta.finalizers as ReadonlyArray<string> | undefined) ?? []
            if (meta.deletionTimestamp !== undefined && finalizers.includes("orphan")) {
              for (const dep of dependents(String(meta.uid))) {
                const next = clone(dep.stored.object)
                next.metadata.ownerReferences = (
                  next.metadata.ownerReferences as ReadonlyArray<{ uid: string }>
                ).filter((r) => r.uid !== meta.uid)
                if ((next.metadata.ownerReferences as ReadonlyArray<unknown>).length === 0) {
                  delete next.metadata.ownerReferences
                }
                commit(dep.rid, dep.key, dep.stored, next, now)
              }
              removeFinalizer(rid, key, stored, "orphan", now)
              changed = true
              break
            }
            if (meta.deletionTimestamp !== undefined && finalizers.includes("foregroundDeletion")) {
              const deps = dependents(String(meta.uid))
              for (const dep of deps) {
                if (dep.stored.object.metadata.deletionTimestamp === undefined) {
                  remove(dep.rid, dep.key, dep.stored, "Foreground", now)
                  changed = true
                }
              }
              if (deps.length === 0) {
                removeFinalizer(rid, key, stored, "foregroundDeletion", now)
                changed = true
              }
              if (changed) break
            }
            const owners = (meta.ownerReferences as ReadonlyArray<{ uid: string }> | undefined) ?? []
            if (meta.deletionTimestamp === undefined && owners.length > 0 && owners.every((r) => !byUid.has(r.uid))) {
              remove(rid, key, stored, "Background", now)
              changed = true
              break
            }
          }
        }
      } finally {
        collecting = false
      }
    }

    // --- the service ---------------------------------------------------------------------------

    const decodeAll = <A extends KubeObject>(resource: Resource<A>, request: string, objects: ReadonlyArray<unknown>) =>
      Effect.forEach(objects, (o) => decodeObject(resource, request, o))

    const describe = (verb: string, resource: ResourceType, namespace?: string, name?: string) =>
      `${verb} ${resource.plural}${name === undefined ? (namespace === undefined ? "" : ` ${namespace}`) : ` ${objectKey(namespace, name)}`}`

    const list = <A extends KubeObject>(resource: Resource<A>, options: ListOptions = {}) => {
      const request = describe("LIST", resource, options.namespace)
      return run(request, () => {
        authorize(request, "list", resource, options.namespace)
        const rid = ridOf(resource)
        const filter = objectFilter(options)
        let after = ""
        let listRv = rv
        if (options.continue !== undefined && options.continue !== "") {
          const token = JSON.parse(Buffer.from(options.continue, "base64url").toString("utf8")) as {
            rv: number
            after: string
          }
          if (token.rv < compactedRv) {
            fail(
              new Gone({
                request,
                message:
                  "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter."
              })
            )
          }
          after = token.after
          listRv = token.rv
        }
        const all = [...table(rid).entries()]
          .filter(([, s]) => options.namespace === undefined || s.object.metadata.namespace === options.namespace)
          .filter(([, s]) => filter(s.object as unknown as KubeObject))
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .filter(([k]) => k > after)
        const limit = options.limit !== undefined && options.limit > 0 ? options.limit : all.length
        const page = all.slice(0, limit)
        const more = all.length > limit
        const last = page[page.length - 1]?.[0] ?? ""
        return {
          items: page.map(([, s]) => output(s, rid)),
          resourceVersion: String(listRv),
          ...(more
            ? { continue: Buffer.from(JSON.stringify({ rv: listRv, after: last }), "utf8").toString("base64url") }
            : {})
        }
      }).pipe(
        Effect.flatMap(
          (result): Effect.Effect<ListResult<A>, KubeError> =>
            Effect.map(decodeAll(resource, request, result.items), (items) => ({ ...result, items }))
        )
      )
    }

    const client: KubeClientService = {
      get: (resource, name, options = {}) => {
        const request = describe("GET", resource, nsOf(resource, options.namespace), name)
        return run(request, () => {
          authorize(request, "get", resource, nsOf(resource, options.namespace), name)
          const found = find(resource, name, options.namespace, request)
          return output(found.stored, found.rid)
        }).pipe(Effect.flatMap((o) => decodeObject(resource, request, o)))
      },
      list,
      listAll: (resource, options = {}) =>
        Effect.gen(function* () {
          const { pageSize, ...rest } = options
          let page = yield* list(resource, { ...rest, limit: pageSize ?? 500 })
          const all = [...page.items]
          while (page.continue !== undefined) {
            page = yield* list(resource, { ...rest, limit: pageSize ?? 500, continue: page.continue })
            all.push(...page.items)
          }
          return { items: all, resourceVersion: page.resourceVersion }
        }),
      watch: <A extends KubeObject>(resource: Resource<A>, options: WatchOptions = {}) =>
        Stream.unwrapScoped(
          Effect.gen(function* () {
            const request = describe("WATCH", resource, options.namespace)
            const queue = yield* Queue.unbounded<Item>()
            const rid = ridOf(resource)
            const watch: Watch = {
              rid,
              namespace: options.namespace,
              filter: objectFilter(options),
              bookmarks: options.allowWatchBookmarks === true,
              queue
            }
            yield* run(request, () => {
              authorize(request, "watch", resource, options.namespace)
              const from = options.resourceVersion
              if (from === undefined || from === "" || from === "0") {
                const current = [...table(rid).values()]
                  .filter((s) => watch.namespace === undefined || s.object.metadata.namespace === watch.namespace)
                  .filter((s) => watch.filter(s.object as unknown as KubeObject))
                for (const s of current) {
                  Queue.unsafeOffer(queue, { _tag: "event", event: { type: "ADDED", object: output(s, rid) } })
                }
              } else {
                const since = Number(from)
                if (since < compactedRv) {
                  fail(new Gone({ request, message: `too old resource version: ${since} (${compactedRv})` }))
                }
                for (const entry of log) if (entry.rv > since) deliver(watch, entry)
              }
              watches.add(watch)
            })
            yield* Effect.addFinalizer(() => Effect.sync(() => watches.delete(watch)))
            const gate = Effect.suspend(() => (stall === undefined ? Effect.void : Deferred.await(stall)))
            const events = Stream.fromQueue(queue).pipe(
              Stream.mapEffect((item) =>
                Effect.zipRight(
                  gate,
                  item._tag === "fail"
                    ? Effect.fail(item.error)
                    : item.event.type === "BOOKMARK"
                      ? Effect.succeed(item.event as WatchEvent<A>)
                      : Effect.map(
                          decodeObject(resource, request, item.event.object),
                          (object): WatchEvent<A> => ({ type: item.event.type as "ADDED", object })
                        )
                )
              )
            )
            const started = Stream.fromEffect(gate).pipe(Stream.drain, Stream.concat(events))
            return options.timeoutSeconds === undefined
              ? started
              : Stream.interruptAfter(started, Duration.seconds(options.timeoutSeconds))
          })
        ),
      create: (resource, object, options: WriteOptions = {}) => {
        const namespace = nsOf(resource, object.metadata.namespace)
        const request = describe("POST", resource, namespace)
        return run(request, (now) => {
          authorize(request, "create", resource, namespace)
          const created = insert(resource, object, namespace, now, request, (stored) =>
            recordUpdate(stored, options.fieldManager ?? "unknown", undefined, { metadata: {} }, stored.object)
          )
          if (options.dryRun === true) return clone(created) as unknown as KubeObject
          const rid = ridOf(resource)
          return output(
            table(rid).get(objectKey(created.metadata.namespace as string | undefined, String(created.metadata.name)))!,
            rid
          )
        }).pipe(Effect.flatMap((o) => decodeObject(resource, request, o)))
      },
      replace: (resource, object, options = {}) => {
        const namespace = nsOf(resource, object.metadata.namespace)
        const name = object.metadata.name ?? ""
        const request = describe("PUT", resource, namespace, name)
        return run(request, (now) => {
          authorize(request, "update", resource, namespace, name, options.subresource)
          checkIdentity(resource, object, request)
          const { rid, key, stored } = find(resource, name, namespace, request)
          checkResourceVersion(stored, object.metadata.resourceVersion, request)
          const before = stored.object
          const after = update(rid, key, stored, clone(object) as unknown as Obj, options.subresource, now, request)
          if (after !== before)
            recordUpdate(stored, options.fieldManager ?? "unknown", options.subresource, before, after)
          return output(stored, rid)
        }).pipe(Effect.flatMap((o) => decodeObject(resource, request, o)))
      },
      apply: (resource, object, options: ApplyOptions) => {
        const namespace = nsOf(resource, object.metadata.namespace)
        const name = object.metadata.name ?? ""
        const request = describe("APPLY", resource, namespace, name)
        return run(request, (now) => {
          authorize(request, "patch", resource, namespace, name, options.subresource)
          if (options.subresource === undefined && !table(ridOf(resource)).has(objectKey(namespace, name))) {
            authorize(request, "create", resource, namespace, name)
          }
          return applyOp(resource, object, namespace, options, now, request)
        }).pipe(Effect.flatMap((o) => decodeObject(resource, request, o)))
      },
      patch: (resource, name, patch, options: PatchOptions) => {
        const namespace = nsOf(resource, options.namespace)
        const request = describe("PATCH", resource, namespace, name)
        return run(request, (now) => {
          authorize(request, "patch", resource, namespace, name, options.subresource)
          const { rid, key, stored } = find(resource, name, namespace, request)
          const before = stored.object
          let proposed: unknown
          try {
            proposed =
              options.type === "merge"
                ? mergePatch(before, patch)
                : jsonPatch(before, patch as ReadonlyArray<JsonPatchOp>)
          } catch (e) {
            return fail(
              new Invalid({
                request,
                message: e instanceof Error ? e.message : String(e),
                code: 422,
                reason: "Invalid",
                causes: []
              })
            )
          }
          if (!isObject(proposed))
            return fail(
              new Invalid({
                request,
                message: "patch result is not an object",
                code: 422,
                reason: "Invalid",
                causes: []
              })
            )
          const proposedObj = proposed as Obj
          checkResourceVersion(stored, (proposedObj.metadata as Meta | undefined)?.resourceVersion, request)
          const after = update(rid, key, stored, proposedObj, options.subresource, now, request)
          if (after !== before)
            recordUpdate(stored, options.fieldManager ?? "unknown", options.subresource, before, after)
          return output(stored, rid)
        }).pipe(Effect.flatMap((o) => decodeObject(resource, request, o)))
      },
      patchStatus: (resource, name, status, options = {}) =>
        client.patch(
          resource,
          name,
          {
            status,
            ...(options.resourceVersion === undefined ? {} : { metadata: { resourceVersion: options.resourceVersion } })
          },
          {
            type: "merge",
            subresource: "status",
            ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
            ...(options.fieldManager === undefined ? {} : { fieldManager: options.fieldManager })
          }
        ),
      delete: (resource, name, options: DeleteOptions = {}) => {
        const namespace = nsOf(resource, options.namespace)
        const request = describe("DELETE", resource, namespace, name)
        return run(request, (now) => {
          authorize(request, "delete", resource, namespace, name)
          const { rid, key, stored } = find(resource, name, namespace, request)
          const meta = stored.object.metadata
          const pre = options.preconditions
          if (pre?.uid !== undefined && pre.uid !== meta.uid) {
            fail(
              new Conflict({
                request,
                message: `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${String(meta.uid)}`,
                reason: "Conflict",
                causes: []
              })
            )
          }
          if (pre?.resourceVersion !== undefined && pre.resourceVersion !== meta.resourceVersion) {
            fail(
              new Conflict({
                request,
                message: `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${String(meta.resourceVersion)}`,
                reason: "Conflict",
                causes: []
              })
            )
          }
          remove(rid, key, stored, options.propagationPolicy, now)
        })
      }
    }

    const applyOp = (
      resource: ResourceType,
      body: KubeObject,
      namespace: string | undefined,
      options: ApplyOptions,
      now: number,
      request: string
    ): KubeObject => {
      checkIdentity(resource, body, request)
      const rid = ridOf(resource)
      const sub = options.subresource
      const config = clone(body) as unknown as Obj
      config.metadata = { ...config.metadata }
      const expectedRv = config.metadata.resourceVersion
      for (const k of systemMeta) delete config.metadata[k]
      const relevant: Record<string, unknown> =
        sub === "status" ? { status: config.status } : { ...config, status: undefined }
      delete relevant.apiVersion
      delete relevant.kind
      if (sub !== "status") {
        const meta = { ...config.metadata }
        delete meta.name
        delete meta.namespace
        if (Object.keys(meta).length === 0) delete relevant.metadata
        else relevant.metadata = meta
        delete relevant.status
      }
      const applied = leaves(relevant)
      const mk = managerKey(options.fieldManager, "Apply", sub)
      const name = checkName(resource.kind, config.metadata.name)
      const key = objectKey(
        resource.namespaced ? ((config.metadata.namespace as string | undefined) ?? namespace) : undefined,
        name
      )
      const existing = table(rid).get(key)
      if (existing === undefined) {
        if (sub === "status") return find(resource, name, namespace, request).stored.object as unknown as KubeObject
        if (options.dryRun === true) return config as unknown as KubeObject
        const created = insert(resource, config as unknown as KubeObject, namespace, now, request, (stored) => {
          stored.managers.set(mk, applied)
        })
        return output(table(rid).get(objectKey(created.metadata.namespace as string | undefined, name))!, rid)
      }
      checkResourceVersion(existing, expectedRv, request)
      const current = existing.object
      const conflicts: Array<{ manager: string; field: string }> = []
      for (const [, path] of applied) {
        if (deepEqual(getPath(current, path), getPath(relevant, path))) continue
        for (const [other, fields] of existing.managers) {
          if (other === mk) continue
          for (const [, owned] of fields) {
            if (overlaps(owned, path))
              conflicts.push({ manager: other.split("\u0000")[0] ?? "", field: `.${path.join(".")}` })
          }
        }
      }
      if (conflicts.length > 0 && options.force !== true) {
        const unique = [...new Map(conflicts.map((c) => [`${c.manager}${c.field}`, c])).values()]
        fail(
          new Conflict({
            request,
            message: `Apply failed with ${unique.length} conflict${unique.length === 1 ? "" : "s"}: ${unique
              .map((c) => `conflict with "${c.manager}": ${c.field}`)
              .join(", ")}`,
            reason: "Conflict",
            causes: unique.map((c) => ({
              reason: "FieldManagerConflict",
              message: `conflict with "${c.manager}"`,
              field: c.field
            }))
          })
        )
      }
      const managers = new Map([...existing.managers].map(([k, v]) => [k, new Map(v)]))
      if (options.force === true) {
        for (const [, path] of applied) {
          if (deepEqual(getPath(current, path), getPath(relevant, path))) continue
          for (const [other, fields] of managers) {
            if (other === mk) continue
            for (const [fk, owned] of fields) if (overlaps(owned, path)) fields.delete(fk)
          }
        }
      }
      const next = clone(current)
      const previouslyApplied = managers.get(mk) ?? new Map<string, Path>()
      for (const [k, path] of previouslyApplied) {
        if (applied.has(k)) continue
        const sharedWithOthers = [...managers].some(
          ([other, fields]) => other !== mk && [...fields.values()].some((p) => overlaps(p, path))
        )
        const stillApplied = [...applied.values()].some((p) => overlaps(p, path))
        if (!sharedWithOthers && !stillApplied) deletePath(next, path)
      }
      const merged = deepMerge(next, relevant) as Obj
      managers.set(mk, applied)
      if (options.dryRun === true) return merged as unknown as KubeObject
      update(rid, key, existing, merged, sub, now, request)
      existing.managers.clear()
      for (const [k, v] of managers) existing.managers.set(k, v)
      return output(existing, rid)
    }

    const server: MemoryApiServerService = {
      compact: Effect.sync(() => {
        compactedRv = rv
        log.length = 0
      }),
      bookmark: Effect.sync(() => {
        for (const watch of watches) {
          if (watch.bookmarks) {
            Queue.unsafeOffer(watch.queue, { _tag: "event", event: { type: "BOOKMARK", resourceVersion: String(rv) } })
          }
        }
      }),
      disconnectWatches: Effect.sync(() => {
        for (const watch of watches) {
          Queue.unsafeOffer(watch.queue, {
            _tag: "fail",
            error: new Transport({ request: `WATCH ${watch.rid}`, message: "connection reset by peer" })
          })
        }
      }),
      setStalled: (stalled) =>
        Effect.gen(function* () {
          if (stalled && stall === undefined) stall = yield* Deferred.make<void>()
          if (!stalled && stall !== undefined) {
            const s = stall
            stall = undefined
            yield* Deferred.succeed(s, undefined)
          }
        }),
      failNext: (count, error) =>
        Effect.sync(() => {
          failures = { count, error }
        }),
      forbid: (rules) =>
        Effect.sync(() => {
          denials = [...rules]
        }),
      requests: Effect.sync(() => [...requests]),
      objects: Effect.sync(() => [...tables].flatMap(([rid, t]) => [...t.values()].map((s) => output(s, rid)))),
      currentResourceVersion: Effect.sync(() => String(rv)),
      openWatches: Effect.sync(() => watches.size),
      keyOf: (object) => objectKey(object.metadata.namespace, object.metadata.name ?? "")
    }

    return { client, server }
  })
