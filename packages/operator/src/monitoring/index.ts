/**
 * Monitoring: the per-instance metrics the operator serves on /metrics, and the alert rules and Grafana dashboard
 * over them that the Helm chart installs (`monitoring.enabled`).
 *
 * @module
 */
export { type AlertRule, alertRules, backupTooOldExpr, prometheusRuleSpec } from "./alerts.js"
export { collectInstanceMetrics, type InstanceMetricsSource } from "./collector.js"
export { type DashboardPanel, dashboardPanels, grafanaDashboard } from "./dashboard.js"
export { type InstanceMetricsInput, instanceMetricFamilies, instanceMetrics } from "./instance-metrics.js"
