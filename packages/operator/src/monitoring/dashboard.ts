/**
 * The Grafana dashboard the Helm chart ships as a ConfigMap for Grafana's dashboard sidecar (`monitoring.enabled`):
 * the instances' health and backups from the per-instance families, and the operator's reconciles and work queues.
 *
 * @module
 */
import { instanceMetricFamilies as m } from "./instance-metrics.js"

export interface DashboardPanel {
  readonly title: string
  readonly type: "stat" | "table" | "bargauge" | "timeseries"
  readonly unit?: string
  readonly targets: ReadonlyArray<{ readonly expr: string; readonly legendFormat: string; readonly instant?: boolean }>
  readonly description?: string
}

const selected = '{namespace=~"$namespace", name=~"$instance"}'
const who = "{{namespace}}/{{name}}"

/** The panels, in order, three to a row. */
export const dashboardPanels: ReadonlyArray<DashboardPanel> = [
  {
    title: "Instances",
    type: "stat",
    targets: [{ expr: `count(${m.ready.name}${selected})`, legendFormat: "instances", instant: true }]
  },
  {
    title: "Not Ready",
    type: "stat",
    targets: [{ expr: `count(${m.ready.name}${selected} == 0) or vector(0)`, legendFormat: "not ready", instant: true }]
  },
  {
    title: "Newest backup failed",
    type: "stat",
    targets: [
      { expr: `count(${m.lastBackupFailed.name}${selected} == 1) or vector(0)`, legendFormat: "failed", instant: true }
    ]
  },
  {
    title: "Phase",
    type: "table",
    targets: [{ expr: `${m.phase.name}${selected} == 1`, legendFormat: `${who} {{phase}}`, instant: true }]
  },
  {
    title: "Upgrade step",
    type: "table",
    description: "Instances with an upgrade in progress, and its step (Failed: stopped until retried).",
    targets: [{ expr: `${m.upgradeStep.name}${selected} == 1`, legendFormat: `${who} {{step}}`, instant: true }]
  },
  {
    title: "Next restart in",
    type: "bargauge",
    unit: "s",
    targets: [{ expr: `${m.nextRestart.name}${selected} - time()`, legendFormat: who, instant: true }]
  },
  {
    title: "Age of the last successful backup",
    type: "bargauge",
    unit: "s",
    targets: [{ expr: `time() - ${m.lastBackupSuccess.name}${selected}`, legendFormat: who, instant: true }]
  },
  {
    title: "Backup schedule interval",
    type: "bargauge",
    unit: "s",
    description: "The backup-age alert fires past twice this.",
    targets: [{ expr: `${m.scheduleInterval.name}${selected}`, legendFormat: who, instant: true }]
  },
  {
    title: "Size of the last successful backup",
    type: "bargauge",
    unit: "bytes",
    targets: [{ expr: `${m.lastBackupSize.name}${selected}`, legendFormat: who, instant: true }]
  },
  {
    title: "Ready over time",
    type: "timeseries",
    targets: [{ expr: `${m.ready.name}${selected}`, legendFormat: who }]
  },
  {
    title: "Reconciles per second",
    type: "timeseries",
    unit: "ops",
    targets: [
      {
        expr: "sum by (controller, result) (rate(controller_runtime_reconcile_total[5m]))",
        legendFormat: "{{controller}} {{result}}"
      }
    ]
  },
  {
    title: "Reconcile errors per second",
    type: "timeseries",
    unit: "ops",
    targets: [
      {
        expr: "sum by (controller) (rate(controller_runtime_reconcile_errors_total[5m]))",
        legendFormat: "{{controller}}"
      }
    ]
  },
  {
    title: "Reconcile time (p99)",
    type: "timeseries",
    unit: "s",
    targets: [
      {
        expr: "histogram_quantile(0.99, sum by (controller, le) (rate(controller_runtime_reconcile_time_seconds_bucket[5m])))",
        legendFormat: "{{controller}}"
      }
    ]
  },
  {
    title: "Work queue depth",
    type: "timeseries",
    targets: [{ expr: "sum by (name) (workqueue_depth)", legendFormat: "{{name}}" }]
  },
  {
    title: "Active workers",
    type: "timeseries",
    targets: [{ expr: "sum by (controller) (controller_runtime_active_workers)", legendFormat: "{{controller}}" }]
  }
]

// Grafana's own variable syntax, not a template string.
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana substitutes it
const datasource = { type: "prometheus", uid: "${datasource}" }

const variable = (name: string, label: string, query: string) => ({
  name,
  label,
  type: "query",
  datasource,
  query: { query, refId: name },
  definition: query,
  includeAll: true,
  allValue: ".*",
  multi: true,
  refresh: 2,
  current: { selected: true, text: ["All"], value: ["$__all"] }
})

/** The dashboard model (Grafana's JSON), with a fixed uid so a re-install replaces it. */
export const grafanaDashboard = () => ({
  uid: "convex-operator",
  title: "Convex operator",
  tags: ["convex", "convex-operator"],
  timezone: "utc",
  schemaVersion: 39,
  version: 1,
  editable: true,
  refresh: "1m",
  time: { from: "now-6h", to: "now" },
  templating: {
    list: [
      { name: "datasource", label: "Data source", type: "datasource", query: "prometheus" },
      variable("namespace", "Namespace", `label_values(${m.ready.name}, namespace)`),
      variable("instance", "Instance", `label_values(${m.ready.name}{namespace=~"$namespace"}, name)`)
    ]
  },
  panels: dashboardPanels.map((panel, index) => ({
    id: index + 1,
    title: panel.title,
    type: panel.type,
    datasource,
    ...(panel.description === undefined ? {} : { description: panel.description }),
    gridPos: { h: panel.type === "stat" ? 4 : 8, w: 8, x: (index % 3) * 8, y: Math.floor(index / 3) * 8 },
    fieldConfig: { defaults: panel.unit === undefined ? {} : { unit: panel.unit }, overrides: [] },
    options: panel.type === "table" ? { showHeader: true } : {},
    targets: panel.targets.map((target, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource,
      expr: target.expr,
      legendFormat: target.legendFormat,
      ...(target.instant === true
        ? { instant: true, range: false, format: panel.type === "table" ? "table" : "time_series" }
        : {})
    }))
  }))
})
