/**
 * The alert rules the Helm chart installs as a PrometheusRule (`monitoring.enabled`), over the series the operator's
 * /metrics serves: the per-instance families (instance-metrics.ts) and controller-runtime's reconcile counters.
 * Prometheus must keep the scraped `namespace` label (the instance's), so the chart's ServiceMonitor sets
 * `honorLabels: true`, as kube-state-metrics' does.
 *
 * @module
 */
import { instanceMetricFamilies as m } from "./instance-metrics.js"

export interface AlertRule {
  readonly alert: string
  readonly expr: string
  readonly for?: string
  readonly labels: { readonly severity: "critical" | "warning" }
  readonly annotations: { readonly summary: string; readonly description: string }
}

const instance = "{{ $labels.namespace }}/{{ $labels.name }}"

/**
 * The last successful backup (or, before the first, the creation of the oldest active schedule, whichever is
 * later) is older than twice the schedule's interval. `(a > b) or b` is the later of the two per instance.
 */
export const backupTooOldExpr = [
  `time() - ((${m.lastBackupSuccess.name} > ${m.scheduleCreated.name}) or ${m.scheduleCreated.name})`,
  `  > 2 * ${m.scheduleInterval.name}`
].join("\n")

export const alertRules: ReadonlyArray<AlertRule> = [
  {
    alert: "ConvexInstanceNotReady",
    expr: `${m.ready.name} == 0\n  unless on (namespace, name) ${m.phase.name}{phase="Paused"} == 1`,
    for: "10m",
    labels: { severity: "critical" },
    annotations: {
      summary: "A ConvexInstance has not been Ready for 10 minutes.",
      description: `${instance} is not Ready (phase and reason: kubectl convex status ${"{{ $labels.name }}"} -n ${"{{ $labels.namespace }}"}).`
    }
  },
  {
    alert: "ConvexBackupFailed",
    expr: `${m.lastBackupFailed.name} == 1`,
    labels: { severity: "warning" },
    annotations: {
      summary: "The newest finished backup of a ConvexInstance failed.",
      description: `The newest finished ConvexBackup of ${instance} failed; its status.message says why.`
    }
  },
  {
    alert: "ConvexBackupTooOld",
    expr: backupTooOldExpr,
    for: "5m",
    labels: { severity: "critical" },
    annotations: {
      summary: "A ConvexInstance's last successful backup is older than twice its schedule.",
      description: `${instance} has had no successful backup for {{ $value | humanizeDuration }}, more than twice its backup schedule.`
    }
  },
  {
    alert: "ConvexUpgradeFailed",
    expr: `${m.upgradeStep.name}{step="Failed"} == 1`,
    labels: { severity: "critical" },
    annotations: {
      summary: "A ConvexInstance's upgrade failed and waits for a retry.",
      description: `The upgrade of ${instance} failed; it stays stopped until the convex.icod.de/retry-upgrade annotation gets a new value or spec.version changes.`
    }
  },
  {
    alert: "ConvexOperatorReconcileErrors",
    expr: "sum by (namespace, job, controller) (rate(controller_runtime_reconcile_errors_total[10m])) > 0",
    for: "15m",
    labels: { severity: "warning" },
    annotations: {
      summary: "The convex-operator keeps failing reconciles.",
      description:
        "Controller {{ $labels.controller }} has failed reconciles in every 10-minute window for 15 minutes; the operator's log and the instances' Warning events say why."
    }
  }
]

/** The `spec` of the PrometheusRule. */
export const prometheusRuleSpec = () => ({
  groups: [{ name: "convex-operator", rules: alertRules }]
})
