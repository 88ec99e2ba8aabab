/**
 * The alert rules and the dashboard ask only for what the operator's /metrics serves: every metric name in their
 * expressions is a served series (the per-instance families, controller-runtime's controller and work-queue
 * families, histograms by their `_bucket`/`_sum`/`_count` series), every label they match or group by is one that
 * series carries, and every exact label value they match is one it takes.
 */
import { Phase, UpgradePhase } from "@convex-operator/core"
import { type KubeObject, Metrics } from "@convex-operator/k8s"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { alertRules, backupTooOldExpr } from "../src/monitoring/alerts.js"
import { collectInstanceMetrics } from "../src/monitoring/collector.js"
import { dashboardPanels, grafanaDashboard } from "../src/monitoring/dashboard.js"
import { instanceMetricFamilies } from "../src/monitoring/instance-metrics.js"

const object = (kind: string, name: string, spec: Record<string, unknown>, status: Record<string, unknown>) =>
  ({
    apiVersion: "convex.icod.de/v1alpha1",
    kind,
    metadata: { name, namespace: "apps", creationTimestamp: "2026-01-01T00:00:00Z" },
    spec,
    status
  }) as unknown as KubeObject

/** An instance with every family present: Ready, backups, a schedule, a due time for its restart. */
const source = {
  instances: () => [
    object(
      "ConvexInstance",
      "demo",
      { environment: "dev", version: "1111111111111111111111111111111111111111" },
      {
        phase: "Ready",
        conditions: [
          { type: "Ready", status: "True", lastTransitionTime: "2026-01-01T00:00:00Z", reason: "R", message: "" },
          {
            type: "StatefulSetReady",
            status: "True",
            lastTransitionTime: "2026-01-01T00:00:00Z",
            reason: "R",
            message: ""
          }
        ]
      }
    )
  ],
  backups: () => [
    object(
      "ConvexBackup",
      "b",
      { instanceRef: { name: "demo" } },
      {
        phase: "Completed",
        finishedAt: "2026-01-02T03:10:00Z",
        sizeBytes: 10
      }
    )
  ],
  scheduledBackups: () => [
    object("ConvexScheduledBackup", "s", { instanceRef: { name: "demo" }, schedule: "@daily" }, {})
  ]
}

/** What /metrics serves: the families every controller registers, and the per-instance collector's. */
const servedText = (): string => {
  const registry = Metrics.makeRegistry()
  const metrics = Metrics.controllerMetrics(registry)
  const controller = { controller: "convexinstance" }
  const queue = { name: "convexinstance" }
  metrics.reconcileTotal.inc({ ...controller, result: "success" })
  metrics.reconcileErrors.inc(controller)
  metrics.terminalErrors.inc(controller)
  metrics.reconcileTime.observe(controller, 0.1)
  metrics.activeWorkers.set(controller, 0)
  metrics.maxConcurrent.set(controller, 1)
  metrics.depth.set(queue, 0)
  metrics.adds.inc(queue)
  metrics.retries.inc(queue)
  metrics.queueDuration.observe(queue, 0.1)
  metrics.workDuration.observe(queue, 0.1)
  return Effect.runSync(
    Effect.scoped(
      Effect.gen(function* () {
        yield* collectInstanceMetrics(source)
        return registry.render()
      })
    ).pipe(Effect.provideService(Metrics.Metrics, registry))
  )
}

/** Served series: name → the label sets of its samples. */
const servedSeries = (text: string): Map<string, Array<Record<string, string>>> => {
  const series = new Map<string, Array<Record<string, string>>>()
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line)
    if (match?.[1] === undefined) continue
    const labels = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]])
    ) as Record<string, string>
    series.set(match[1], [...(series.get(match[1]) ?? []), labels])
  }
  return series
}

interface Selector {
  readonly metric: string
  readonly matchers: ReadonlyArray<{ readonly label: string; readonly op: string; readonly value: string }>
}

const keywords = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "bool",
  "offset"
])
const aggregations = new Set(["sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile"])

/**
 * The selectors and grouping labels of a PromQL expression: enough of PromQL for these rules (names, `{…}` matchers,
 * `by`/`on`/`without`/`ignoring` lists, functions, ranges, numbers).
 */
const parsePromQL = (expr: string): { selectors: ReadonlyArray<Selector>; grouping: ReadonlyArray<string> } => {
  const grouping: Array<string> = []
  let rest = expr.replace(
    /\b(by|on|without|ignoring|group_left|group_right)\s*\(([^)]*)\)/g,
    (_, _k, labels: string) => {
      grouping.push(
        ...labels
          .split(",")
          .map((label) => label.trim())
          .filter((label) => label !== "")
      )
      return " "
    }
  )
  rest = rest.replace(/\[[^\]]*\]/g, " ")
  const selectors: Array<Selector> = []
  rest = rest.replace(/([a-zA-Z_:][a-zA-Z0-9_:]*)?\{([^}]*)\}/g, (_, metric: string | undefined, body: string) => {
    const matchers = [...body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].map((m) => ({
      label: m[1] ?? "",
      op: m[2] ?? "",
      value: m[3] ?? ""
    }))
    if (metric === undefined) throw new Error(`a selector without a metric name in ${expr}`)
    selectors.push({ metric, matchers })
    return " "
  })
  for (const match of rest.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const name = match[1] ?? ""
    const before = rest[match.index - 1]
    if (match[2] !== undefined || keywords.has(name) || aggregations.has(name)) continue
    if (before !== undefined && /[0-9.]/.test(before)) continue // the exponent or unit of a number
    selectors.push({ metric: name, matchers: [] })
  }
  return { selectors, grouping }
}

/** Labels Prometheus adds to every scraped series (from the target). */
const targetLabels = new Set(["job", "namespace", "instance", "pod", "service", "endpoint", "container"])

const expressions = [
  ...alertRules.map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr })),
  ...dashboardPanels.flatMap((panel) =>
    panel.targets.map((target) => ({ where: `panel ${panel.title}`, expr: target.expr }))
  ),
  ...grafanaDashboard()
    .templating.list.flatMap((variable) => ("definition" in variable ? [variable.definition] : []))
    .map((definition) => ({
      where: "dashboard variable",
      expr: /^label_values\((.*), *[a-z_]+\)$/.exec(definition)?.[1] ?? definition
    }))
]

describe("the alert rules and the dashboard", () => {
  const series = servedSeries(servedText())

  it("the served text has every per-instance family and the controller families", () => {
    for (const family of Object.values(instanceMetricFamilies)) expect(series.has(family.name), family.name).toBe(true)
    expect(series.has("controller_runtime_reconcile_errors_total")).toBe(true)
    expect(series.has("controller_runtime_reconcile_time_seconds_bucket")).toBe(true)
  })

  it.each(expressions)("$where: every metric, label and value it asks for is served", ({ expr }) => {
    const { selectors, grouping } = parsePromQL(expr)
    expect(selectors.length).toBeGreaterThan(0)
    const used = new Set<string>()
    for (const selector of selectors) {
      const samples = series.get(selector.metric)
      expect(samples, `${selector.metric} is not served`).toBeDefined()
      for (const labels of samples ?? []) for (const label of Object.keys(labels)) used.add(label)
      for (const matcher of selector.matchers) {
        const carries = (samples ?? []).some((labels) => matcher.label in labels)
        expect(carries || targetLabels.has(matcher.label), `${selector.metric} has no label ${matcher.label}`).toBe(
          true
        )
        if (matcher.op === "=") {
          expect(
            (samples ?? []).some((labels) => labels[matcher.label] === matcher.value),
            `${selector.metric}{${matcher.label}="${matcher.value}"} is never served`
          ).toBe(true)
        }
      }
    }
    for (const label of grouping) expect(used.has(label) || targetLabels.has(label), `label ${label}`).toBe(true)
  })

  it("the one-series-per-value families serve every phase and step the rules can name", () => {
    const values = (name: string, label: string) => new Set(series.get(name)?.map((labels) => labels[label]))
    expect(values(instanceMetricFamilies.phase.name, "phase")).toEqual(new Set(Phase.literals))
    expect(values(instanceMetricFamilies.upgradeStep.name, "step")).toEqual(new Set(UpgradePhase.literals))
  })

  it("the parser finds what the backup-age rule reads (a parser that found nothing would pass the checks above)", () => {
    expect(new Set(parsePromQL(backupTooOldExpr).selectors.map((selector) => selector.metric))).toEqual(
      new Set([
        instanceMetricFamilies.lastBackupSuccess.name,
        instanceMetricFamilies.scheduleCreated.name,
        instanceMetricFamilies.scheduleInterval.name
      ])
    )
    expect(parsePromQL('sum by (a, b) (rate(x_total{c="d"}[5m])) > 0')).toEqual({
      selectors: [{ metric: "x_total", matchers: [{ label: "c", op: "=", value: "d" }] }],
      grouping: ["a", "b"]
    })
  })
})
