/**
 * The types of the {@link KubeClient} service: its methods and their options, the connection settings of the live
 * client and the test controls of the in-memory apiserver. They live apart from `KubeClient.ts`, which re-exports
 * them, so that the two implementations (`live.ts`, `memory.ts`) import their contract from here and the module that
 * builds the layers from them does not import back from its own implementations.
 */
import type { Duration, Effect, Stream } from "effect"
import type { KubeError } from "../errors.js"
import type { KubeObject, ObjectKey, Resource, ResourceType } from "../Resource.js"

export interface ListOptions {
  readonly namespace?: string | undefined
  /** `app=web,tier!=db,env in (a,b),!legacy` */
  readonly labelSelector?: string | undefined
  /** `metadata.name=x,metadata.namespace!=y` */
  readonly fieldSelector?: string | undefined
  /** Page size; with `continue` from the previous page. */
  readonly limit?: number
  readonly continue?: string | undefined
  readonly resourceVersion?: string | undefined
  /** With `resourceVersion`: `Exact` reads that version (410 once compacted); `NotOlderThan` anything newer. */
  readonly resourceVersionMatch?: "Exact" | "NotOlderThan"
}

export interface ListResult<A> {
  readonly items: ReadonlyArray<A>
  readonly resourceVersion: string
  /** Present when there are more pages. */
  readonly continue?: string | undefined
}

export interface WatchOptions {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  readonly fieldSelector?: string | undefined
  /** Start after this version (from a list); absent: current state as ADDED events, then changes. */
  readonly resourceVersion?: string | undefined
  readonly allowWatchBookmarks?: boolean
  /** The server ends the watch after this long (the stream then ends without error). */
  readonly timeoutSeconds?: number
}

export type WatchEvent<A> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: A }
  | { readonly type: "BOOKMARK"; readonly resourceVersion: string }

export interface WriteOptions {
  readonly fieldManager?: string | undefined
  readonly dryRun?: boolean
}

export interface ApplyOptions {
  readonly fieldManager: string
  /** Take over fields another manager owns (a controller's own fields: yes). */
  readonly force?: boolean
  /** Apply to the `status` subresource instead of the object. */
  readonly subresource?: "status"
  readonly dryRun?: boolean
}

export interface PatchOptions {
  readonly namespace?: string | undefined
  /** `merge`: RFC 7386 JSON merge patch; `json`: RFC 6902 JSON patch. */
  readonly type: "merge" | "json"
  readonly subresource?: "status"
  readonly fieldManager?: string | undefined
}

export interface PatchStatusOptions {
  readonly namespace?: string | undefined
  readonly fieldManager?: string | undefined
  /** Fail with Conflict unless the object is still at this version. */
  readonly resourceVersion?: string | undefined
}

export interface DeleteOptions {
  readonly namespace?: string | undefined
  /** Default (absent): the kind's default, Background for most. */
  readonly propagationPolicy?: "Background" | "Foreground" | "Orphan"
  /** Delete only this incarnation / this version; Conflict otherwise. */
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string }
  readonly gracePeriodSeconds?: number
}

export interface GetOptions {
  readonly namespace?: string | undefined
}

export interface KubeClientService {
  readonly get: <A extends KubeObject>(
    resource: Resource<A>,
    name: string,
    options?: GetOptions
  ) => Effect.Effect<A, KubeError>
  /** One page. */
  readonly list: <A extends KubeObject>(
    resource: Resource<A>,
    options?: ListOptions
  ) => Effect.Effect<ListResult<A>, KubeError>
  /** Every page (`pageSize`, default 500), as one consistent result. */
  readonly listAll: <A extends KubeObject>(
    resource: Resource<A>,
    options?: Omit<ListOptions, "limit" | "continue"> & { readonly pageSize?: number }
  ) => Effect.Effect<ListResult<A>, KubeError>
  /** One watch request: ends when the server ends it; ERROR events become failures (410 → Gone). */
  readonly watch: <A extends KubeObject>(
    resource: Resource<A>,
    options?: WatchOptions
  ) => Stream.Stream<WatchEvent<A>, KubeError>
  readonly create: <A extends KubeObject>(
    resource: Resource<A>,
    object: KubeObject,
    options?: WriteOptions
  ) => Effect.Effect<A, KubeError>
  /** PUT: optimistic concurrency on `metadata.resourceVersion`. */
  readonly replace: <A extends KubeObject>(
    resource: Resource<A>,
    object: KubeObject,
    options?: WriteOptions & { readonly subresource?: "status" }
  ) => Effect.Effect<A, KubeError>
  /** Server-side apply of a (partial) object that names apiVersion, kind and metadata.name. */
  readonly apply: <A extends KubeObject>(
    resource: Resource<A>,
    object: KubeObject,
    options: ApplyOptions
  ) => Effect.Effect<A, KubeError>
  readonly patch: <A extends KubeObject>(
    resource: Resource<A>,
    name: string,
    patch: unknown,
    options: PatchOptions
  ) => Effect.Effect<A, KubeError>
  /** Merge-patches `status` through the status subresource. */
  readonly patchStatus: <A extends KubeObject>(
    resource: Resource<A>,
    name: string,
    status: unknown,
    options?: PatchStatusOptions
  ) => Effect.Effect<A, KubeError>
  readonly delete: (resource: ResourceType, name: string, options?: DeleteOptions) => Effect.Effect<void, KubeError>
}

export interface RateLimit {
  /** Sustained requests per second (default 20, like controller-runtime). */
  readonly qps: number
  /** Burst size (default 30). */
  readonly burst: number
}

/** Where the connection settings come from. */
export type KubeConfigSource =
  /** KUBECONFIG, ~/.kube/config, then the in-cluster service account (client-node's `loadFromDefault`). */
  | { readonly _tag: "Default" }
  | { readonly _tag: "File"; readonly path: string; readonly context?: string }
  | { readonly _tag: "InCluster" }
  | {
      readonly _tag: "Explicit"
      readonly server: string
      /** PEM */
      readonly ca?: string
      readonly cert?: string
      readonly key?: string
      readonly token?: string
      readonly insecureSkipTlsVerify?: boolean
    }

export interface LiveOptions {
  readonly source?: KubeConfigSource
  /** Client-side token bucket; `false` disables it. */
  readonly rateLimit?: RateLimit | false
  /** Timeout of a non-watch request (default 30 s). */
  readonly requestTimeout?: Duration.DurationInput
  readonly userAgent?: string
}

export interface MemoryOptions {
  /** Events kept for watches before they are compacted away (default 10 000). */
  readonly historyLimit?: number
}

/** Test controls of the in-memory apiserver. */
export interface MemoryApiServerService {
  /** Forget history up to now: older resourceVersions and continue tokens answer 410. */
  readonly compact: Effect.Effect<void>
  /** Sends a BOOKMARK to every watch that allows them. */
  readonly bookmark: Effect.Effect<void>
  /** Breaks every open watch with a Transport failure. */
  readonly disconnectWatches: Effect.Effect<void>
  /** While stalled, open and new watches deliver nothing (a silent connection). */
  readonly setStalled: (stalled: boolean) => Effect.Effect<void>
  /** The next `count` requests fail with `error` (e.g. a Transport error for backoff tests). */
  readonly failNext: (count: number, error: (request: string) => KubeError) => Effect.Effect<void>
  /**
   * From now on (until called again; `[]` allows everything), a request that needs one of `denials` fails with
   * Forbidden (403) and the message RBAC gives. A rule names an RBAC verb (`get`, `list`, `watch`, `create`,
   * `update`, `patch`, `delete`), a plural (`services`, `convexinstances/status` for a subresource) and optionally
   * one namespace. Server-side apply needs `patch`, and `create` too when the object does not exist yet.
   */
  readonly forbid: (
    denials: ReadonlyArray<{ readonly verb: string; readonly resource: string; readonly namespace?: string }>
  ) => Effect.Effect<void>
  /** Requests served so far, e.g. `["LIST configmaps", "WATCH configmaps"]`. */
  readonly requests: Effect.Effect<ReadonlyArray<string>>
  /** Every stored object, for assertions. */
  readonly objects: Effect.Effect<ReadonlyArray<KubeObject>>
  readonly currentResourceVersion: Effect.Effect<string>
  /** Number of open watches. */
  readonly openWatches: Effect.Effect<number>
  readonly keyOf: (object: KubeObject) => ObjectKey
}
