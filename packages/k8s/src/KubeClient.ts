/**
 * `KubeClient`: the Kubernetes API as an Effect service, for any kind given as a {@link Resource}.
 *
 * - `layerLive`: a real apiserver through `@kubernetes/client-node`'s KubeConfig (kubeconfig file,
 *   in-cluster service account, or explicit config), with a client-side rate limit.
 * - `layerMemory`: an in-memory apiserver for tests (see {@link MemoryApiServer}).
 *
 * The service's types are declared in `internal/client-types.ts` and re-exported here.
 */
import { Context, Effect, Layer } from "effect"
import type { KubeConfigError } from "./errors.js"
import type {
  KubeClientService,
  KubeConfigSource,
  LiveOptions,
  MemoryApiServerService,
  MemoryOptions
} from "./internal/client-types.js"
import { contextNamespace, makeLive } from "./internal/live.js"
import { makeMemory } from "./internal/memory.js"

export type {
  ApplyOptions,
  DeleteOptions,
  GetOptions,
  KubeClientService,
  KubeConfigSource,
  ListOptions,
  ListResult,
  LiveOptions,
  MemoryApiServerService,
  MemoryOptions,
  PatchOptions,
  PatchStatusOptions,
  RateLimit,
  WatchEvent,
  WatchOptions,
  WriteOptions
} from "./internal/client-types.js"

export class KubeClient extends Context.Tag("@convex-operator/k8s/KubeClient")<KubeClient, KubeClientService>() {
  /** A real apiserver: `source` default is the usual lookup (KUBECONFIG, ~/.kube/config, in-cluster). */
  static readonly layerLive = (options: LiveOptions = {}): Layer.Layer<KubeClient, KubeConfigError> =>
    Layer.scoped(KubeClient, makeLive(options))
  /** The namespace kubectl would use without `-n` for `source`: the current context's, else `default`. */
  static readonly contextNamespace = (source: KubeConfigSource = { _tag: "Default" }) => contextNamespace(source)
  /** An in-memory apiserver, with its test controls as {@link MemoryApiServer}. */
  static readonly layerMemory = (options: MemoryOptions = {}): Layer.Layer<KubeClient | MemoryApiServer> =>
    Layer.effectContext(
      Effect.map(makeMemory(options), ({ client, server }) =>
        Context.make(KubeClient, client).pipe(Context.add(MemoryApiServer, server))
      )
    )
}

export class MemoryApiServer extends Context.Tag("@convex-operator/k8s/MemoryApiServer")<
  MemoryApiServer,
  MemoryApiServerService
>() {}
