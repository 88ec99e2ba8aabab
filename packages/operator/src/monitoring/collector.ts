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

const isReader = (value: unknown): value is () => ReadonlyArray<KubeObject> => typeof value === "function"

/**
 * The source, when `operator` offers the three readers. The operator's handle does not expose its caches yet; once
 * it has `instances`, `backups` and `scheduledBackups`, `run` serves the metrics with no further change.
 */
export const instanceMetricsSource = (operator: object): InstanceMetricsSource | undefined => {
  const candidate = operator as Partial<Record<keyof InstanceMetricsSource, unknown>>
  const { instances, backups, scheduledBackups } = candidate
  return isReader(instances) && isReader(backups) && isReader(scheduledBackups)
    ? {
        instances: () => instances.call(operator),
        backups: () => backups.call(operator),
        scheduledBackups: () => scheduledBackups.call(operator)
      }
    : undefined
}
