/**
 * The instance cache as a service: what `observe` and `act` read (the instances, their children, the objects they
 * reference, which optional kinds the cluster serves). The live layer is the watch-fed cache of `cache.ts` over
 * whatever `KubeClient` is provided, so over the in-memory apiserver it is the memory layer of the unit tests.
 *
 * @module
 */
import type { KubeClient } from "@convex-operator/k8s"
import { Context, Layer } from "effect"
import { type Cache, type CacheOptions, makeCache } from "./cache.js"

export class InstanceCache extends Context.Tag("convex-operator/InstanceCache")<InstanceCache, Cache>() {
  /** A cache of one namespace (or all), fed by watches for as long as the layer's scope lives. */
  static readonly layer = (options: CacheOptions): Layer.Layer<InstanceCache, never, KubeClient> =>
    Layer.scoped(InstanceCache, makeCache(options))
}
