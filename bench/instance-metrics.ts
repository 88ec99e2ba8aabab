/**
 * `npx tsx --conditions=@convex-operator/source bench/instance-metrics.ts [--instances 200] [--backups 10]`: the cost
 * of one scrape's per-instance metrics (packages/operator/src/monitoring/instance-metrics.ts) over N instances, each
 * with B finished backups and a daily schedule, after a first scrape has filled the memos (parsed schedules, gaps,
 * restart intervals). Never part of `npm test`; prints milliseconds per scrape (median and worst of the runs).
 */
import { parseArgs } from "node:util"
import type { KubeObject } from "@convex-operator/k8s"
import { instanceMetrics } from "convex-operator"

const { values } = parseArgs({
  options: { instances: { type: "string", default: "200" }, backups: { type: "string", default: "10" } }
})
const n = Number(values.instances)
const perInstance = Number(values.backups)
const meta = (name: string, kind: string) => ({
  apiVersion: "convex.icod.de/v1alpha1",
  kind,
  metadata: { name, namespace: "apps", creationTimestamp: "2026-01-01T00:00:00Z" }
})
const condition = (type: string) => ({
  type,
  status: "True",
  lastTransitionTime: "2026-01-01T00:00:00Z",
  reason: "R",
  message: ""
})
const instances = Array.from({ length: n }, (_, i) => ({
  ...meta(`i${i}`, "ConvexInstance"),
  spec: { environment: "dev", version: "1111111111111111111111111111111111111111" },
  status: { phase: "Ready", conditions: [condition("Ready"), condition("StatefulSetReady")] }
})) as unknown as Array<KubeObject>
const backups = instances.flatMap((instance, i) =>
  Array.from({ length: perInstance }, (_, j) => ({
    ...meta(`b${i}-${j}`, "ConvexBackup"),
    spec: { instanceRef: { name: instance.metadata.name } },
    status: {
      phase: j % 7 === 6 ? "Failed" : "Completed",
      finishedAt: new Date(Date.UTC(2026, 0, 1 + j, 3, 10)).toISOString(),
      sizeBytes: 1e6
    }
  }))
) as unknown as Array<KubeObject>
const scheduledBackups = instances.map((instance, i) => ({
  ...meta(`s${i}`, "ConvexScheduledBackup"),
  spec: { instanceRef: { name: instance.metadata.name }, schedule: "0 3 * * *" }
})) as unknown as Array<KubeObject>

const input = { instances, backups, scheduledBackups }
instanceMetrics(input, new Date())
const times: Array<number> = []
for (let run = 0; run < 30; run++) {
  const started = performance.now()
  instanceMetrics(input, new Date())
  times.push(performance.now() - started)
}
times.sort((a, b) => a - b)
console.log(
  `${n} instances, ${backups.length} backups, ${scheduledBackups.length} schedules: ` +
    `median ${times[15]?.toFixed(1)} ms, worst ${times[29]?.toFixed(1)} ms per scrape (30 scrapes)`
)
