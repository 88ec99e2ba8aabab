/**
 * A small metrics registry (counters, gauges, histograms with labels) rendered in the Prometheus
 * text format, with controller-runtime's metric names for controllers and work queues. A service,
 * so a test can have a fresh registry (`Metrics.layer`); without one, a process-wide default is used.
 */
import { Context, Effect, Layer } from "effect"

type Labels = Readonly<Record<string, string>>

const labelKey = (labels: Labels) =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}="${String(labels[k]).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
    .join(",")

const formatNumber = (n: number) => (Number.isFinite(n) ? String(n) : n > 0 ? "+Inf" : n < 0 ? "-Inf" : "NaN")

export interface Counter {
  readonly inc: (labels?: Labels, by?: number) => void
  readonly get: (labels?: Labels) => number
}
export interface Gauge {
  readonly set: (labels: Labels, value: number) => void
  readonly add: (labels: Labels, by: number) => void
  readonly get: (labels?: Labels) => number
}
export interface Histogram {
  readonly observe: (labels: Labels, value: number) => void
  readonly count: (labels?: Labels) => number
}

interface Family {
  readonly name: string
  readonly help: string
  readonly type: "counter" | "gauge" | "histogram"
  readonly render: () => ReadonlyArray<string>
}

/** One series of a collected family. */
export interface Sample {
  readonly labels: Labels
  readonly value: number
}

/** A metric family computed when /metrics is read (kube-state-metrics style), not kept in the registry. */
export interface CollectedFamily {
  readonly name: string
  readonly help: string
  readonly type: "counter" | "gauge"
  readonly samples: ReadonlyArray<Sample>
}

export interface Registry {
  readonly counter: (name: string, help: string) => Counter
  readonly gauge: (name: string, help: string) => Gauge
  readonly histogram: (name: string, help: string, buckets: ReadonlyArray<number>) => Histogram
  /**
   * Adds a collector, called on every render after the stored families; it returns the function that removes it.
   * A collector that throws contributes nothing to that render, and counts in `metrics_collector_errors_total` (so a
   * broken collector shows on the page instead of vanishing).
   */
  readonly collector: (collect: () => ReadonlyArray<CollectedFamily>) => () => void
  /** Everything, in the Prometheus text exposition format (0.0.4). */
  readonly render: () => string
}

export const makeRegistry = (): Registry => {
  const families = new Map<string, Family & { readonly instance: unknown }>()
  const collectors = new Set<() => ReadonlyArray<CollectedFamily>>()
  const collected = (): ReadonlyArray<Family> =>
    [...collectors].flatMap((collect) => {
      try {
        return collect().map((family) => ({
          ...family,
          render: () => family.samples.map((sample) => series(family.name, labelKey(sample.labels), sample.value))
        }))
      } catch {
        collectorErrors.inc()
        return []
      }
    })
  const register = <A>(name: string, make: () => Family & { readonly instance: A }): A => {
    const existing = families.get(name)
    if (existing !== undefined) return existing.instance as A
    const family = make()
    families.set(name, family)
    return family.instance
  }
  // Registered on first use (a registry whose collectors never fail renders no such family).
  const collectorErrors = {
    inc: () =>
      register("metrics_collector_errors_total", () =>
        scalar(
          "metrics_collector_errors_total",
          "Scrape-time collectors that threw (they rendered nothing).",
          "counter"
        )
      ).inc()
  }
  const series = (name: string, labels: string, value: number) =>
    `${name}${labels === "" ? "" : `{${labels}}`} ${formatNumber(value)}`
  const scalar = (name: string, help: string, type: "counter" | "gauge") => {
    const values = new Map<string, number>()
    const add = (labels: Labels, by: number) => {
      const k = labelKey(labels)
      values.set(k, (values.get(k) ?? 0) + by)
    }
    return {
      name,
      help,
      type,
      render: () => [...values].map(([k, v]) => series(name, k, v)),
      instance: {
        inc: (labels: Labels = {}, by = 1) => add(labels, by),
        add,
        set: (labels: Labels, value: number) => void values.set(labelKey(labels), value),
        get: (labels: Labels = {}) => values.get(labelKey(labels)) ?? 0
      }
    }
  }
  return {
    counter: (name, help) => register(name, () => scalar(name, help, "counter")),
    gauge: (name, help) => register(name, () => scalar(name, help, "gauge")),
    histogram: (name, help, buckets) =>
      register(name, () => {
        const sorted = [...buckets].sort((a, b) => a - b)
        const values = new Map<string, { counts: Array<number>; sum: number; count: number; labels: Labels }>()
        return {
          name,
          help,
          type: "histogram" as const,
          render: () =>
            [...values.values()].flatMap((h) => [
              ...sorted.map((le, i) =>
                series(`${name}_bucket`, labelKey({ ...h.labels, le: formatNumber(le) }), h.counts[i] ?? 0)
              ),
              series(`${name}_bucket`, labelKey({ ...h.labels, le: "+Inf" }), h.count),
              series(`${name}_sum`, labelKey(h.labels), h.sum),
              series(`${name}_count`, labelKey(h.labels), h.count)
            ]),
          instance: {
            observe: (labels: Labels, value: number) => {
              const k = labelKey(labels)
              let h = values.get(k)
              if (h === undefined) {
                h = { counts: sorted.map(() => 0), sum: 0, count: 0, labels }
                values.set(k, h)
              }
              sorted.forEach((le, i) => {
                if (value <= le) h.counts[i] = (h.counts[i] ?? 0) + 1
              })
              h.sum += value
              h.count++
            },
            count: (labels: Labels = {}) => values.get(labelKey(labels))?.count ?? 0
          }
        }
      }),
    collector: (collect) => {
      const entry = () => collect()
      collectors.add(entry)
      return () => void collectors.delete(entry)
    },
    render: () => {
      // The collectors first: one that throws counts in a stored family, which this render then shows.
      const fromCollectors = collected()
      return [...families.values(), ...fromCollectors]
        .flatMap((f) => [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.render()])
        .join("\n")
        .concat("\n")
    }
  }
}

export const exponentialBuckets = (start: number, factor: number, count: number): ReadonlyArray<number> =>
  Array.from({ length: count }, (_, i) => start * factor ** i)

/** controller-runtime's reconcile_time_seconds buckets. */
export const reconcileTimeBuckets: ReadonlyArray<number> = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75,
  2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60
]

/** The metrics of one controller and its work queue, under controller-runtime's names. */
export const controllerMetrics = (registry: Registry) => ({
  reconcileTotal: registry.counter(
    "controller_runtime_reconcile_total",
    "Total number of reconciliations per controller"
  ),
  reconcileErrors: registry.counter(
    "controller_runtime_reconcile_errors_total",
    "Total number of reconciliation errors per controller"
  ),
  terminalErrors: registry.counter(
    "controller_runtime_terminal_reconcile_errors_total",
    "Total number of terminal reconciliation errors per controller"
  ),
  reconcileTime: registry.histogram(
    "controller_runtime_reconcile_time_seconds",
    "Length of time per reconciliation per controller",
    reconcileTimeBuckets
  ),
  activeWorkers: registry.gauge("controller_runtime_active_workers", "Number of currently used workers per controller"),
  maxConcurrent: registry.gauge(
    "controller_runtime_max_concurrent_reconciles",
    "Maximum number of concurrent reconciles per controller"
  ),
  depth: registry.gauge("workqueue_depth", "Current depth of workqueue"),
  adds: registry.counter("workqueue_adds_total", "Total number of adds handled by workqueue"),
  retries: registry.counter("workqueue_retries_total", "Total number of retries handled by workqueue"),
  queueDuration: registry.histogram(
    "workqueue_queue_duration_seconds",
    "How long in seconds an item stays in workqueue before being requested",
    exponentialBuckets(1e-8, 10, 12)
  ),
  workDuration: registry.histogram(
    "workqueue_work_duration_seconds",
    "How long in seconds processing an item from workqueue takes",
    exponentialBuckets(1e-8, 10, 12)
  )
})

export class Metrics extends Context.Tag("@convex-operator/k8s/Metrics")<Metrics, Registry>() {
  /** A fresh registry. */
  static readonly layer: Layer.Layer<Metrics> = Layer.sync(Metrics, makeRegistry)
}

let processRegistry: Registry | undefined

/** The registry used when no {@link Metrics} service is provided: one per process (like prom-client's default). */
export const defaultRegistry = (): Registry => {
  if (processRegistry === undefined) processRegistry = makeRegistry()
  return processRegistry
}

/** The registry in context, or the process default. */
export const registry: Effect.Effect<Registry> = Effect.map(Effect.serviceOption(Metrics), (option) =>
  option._tag === "Some" ? option.value : defaultRegistry()
)
