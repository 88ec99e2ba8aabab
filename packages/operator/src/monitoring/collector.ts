/**
 * Serves the per-instance metrics (instance-metrics.ts) on the registry in context: a collector that reads the
 * caches each time /metrics is scraped, registered for the current scope (so a replica that loses leadership, whose
 * caches stop, serves none).
 *
 * @module
 */
import type { KubeObject } from "@convex-operator/k8s"
import { Metrics } from "@convex-operator/k8s"
import { Effect, type Scope } from "effect"
import { instanceMetrics } from "./instance-metrics.js"

/** Synchronous reads of the operator's caches (every watched namespace). */
export interface InstanceMetricsSource {
  readonly instances: () => ReadonlyArray<KubeObject>
  readonly backups: () => ReadonlyArray<KubeObject>
  readonly scheduledBackups: () => ReadonlyArray<KubeObject>
}

/** Registers the collector until the scope closes; `now` is the Clock in context (TestClock in tests). */
export const collectInstanceMetrics = (source: InstanceMetricsSource): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const registry = yield* Metrics.registry
    const clock = yield* Effect.clock
    const remove = registry.collector(() =>
      instanceMetrics(
        { instances: source.instances(), backups: source.backups(), scheduledBackups: source.scheduledBackups() },
        new Date(clock.unsafeCurrentTimeMillis())
      )
    )
    yield* Effect.addFinalizer(() => Effect.sync(remove))
  })
