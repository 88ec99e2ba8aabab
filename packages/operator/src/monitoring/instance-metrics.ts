/**
 * Per-instance metrics, computed when /metrics is read from what the operator's caches hold (as kube-state-metrics
 * does), never written from the reconcile path: a pure function of the ConvexInstances, ConvexBackups and
 * ConvexScheduledBackups and the time. Every series is labelled with the instance's `namespace` and `name` only, plus
 * `phase` or `step` on the one-series-per-value families (value 1 for the current one, 0 for the others).
 *
 * @module
 */
import { type CronSchedule, decodeConvexInstance, Phase, parseCron, UpgradePhase } from "@convex-operator/core"
import { planRestart } from "@convex-operator/core/internal"
import type { KubeObject, Metrics } from "@convex-operator/k8s"
import { Either, Order } from "effect"
import { boundedMemo } from "../shell/bounded-memo.js"

/** What the metrics are computed from: the objects in the operator's caches. */
export interface InstanceMetricsInput {
  readonly instances: ReadonlyArray<KubeObject>
  readonly backups: ReadonlyArray<KubeObject>
  readonly scheduledBackups: ReadonlyArray<KubeObject>
}

const prefix = "convex_operator_instance_"

/** Every family the function serves, with its HELP text (the alert rules and dashboard name them from here). */
export const instanceMetricFamilies = {
  ready: {
    name: `${prefix}ready`,
    help: "1 when the instance's Ready condition is True, else 0."
  },
  phase: {
    name: `${prefix}phase`,
    help: `The instance's status.phase: one series per phase (${Phase.literals.join(", ")}), 1 for the current one.`
  },
  upgradeStep: {
    name: `${prefix}upgrade_step`,
    help: `The step of the upgrade in progress: one series per step (${UpgradePhase.literals.join(", ")}), 1 for the current one; all 0 when no upgrade runs.`
  },
  lastBackupSuccess: {
    name: `${prefix}backup_last_success_timestamp_seconds`,
    help: "When the newest Completed ConvexBackup of the instance finished (unix seconds); absent before the first."
  },
  lastBackupSize: {
    name: `${prefix}backup_last_success_size_bytes`,
    help: "Size of the ZIP of the newest Completed ConvexBackup of the instance, when its Job reported it."
  },
  lastBackupFailed: {
    name: `${prefix}backup_last_failed`,
    help: "1 when the newest finished ConvexBackup of the instance Failed, else 0."
  },
  scheduleInterval: {
    name: `${prefix}backup_schedule_interval_seconds`,
    help:
      "The instance's most frequent active ConvexScheduledBackup: the longer of the two gaps from the last " +
      "successful backup (or the schedule's creation) to the next scheduled run and from it to the one after; " +
      "absent without an active schedule."
  },
  scheduleCreated: {
    name: `${prefix}backup_schedule_created_timestamp_seconds`,
    help: "Creation time (unix seconds) of the instance's oldest active ConvexScheduledBackup."
  },
  nextRestart: {
    name: `${prefix}next_restart_timestamp_seconds`,
    help:
      "When maintenance.restartInterval next restarts the backend (unix seconds); absent while it is disabled, " +
      "the backend is not ready or an upgrade runs."
  }
} as const

// Reading the parts of the objects the metrics need. Status is written by the operator; these reads still accept
// anything, so an odd object yields no series rather than an error on /metrics.
type Json = Record<string, unknown>
const record = (value: unknown): Json => (typeof value === "object" && value !== null ? (value as Json) : {})
const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined)
const seconds = (time: unknown): number | undefined => {
  const millis = typeof time === "string" ? Date.parse(time) : Number.NaN
  return Number.isNaN(millis) ? undefined : millis / 1000
}
const statusOf = (object: KubeObject) => record((object as { status?: unknown }).status)
const specOf = (object: KubeObject) => record((object as { spec?: unknown }).spec)
const instanceRefOf = (object: KubeObject) => text(record(specOf(object).instanceRef).name)
const keyOf = (namespace: string | undefined, name: string | undefined) => `${namespace ?? ""}/${name ?? ""}`
const conditionOf = (object: KubeObject, type: string) => {
  const conditions = statusOf(object).conditions
  return Array.isArray(conditions) ? conditions.map(record).find((condition) => condition.type === type) : undefined
}

/** The finished backups of one instance, newest first by finish time. */
const finishedBackups = (backups: ReadonlyArray<KubeObject>) =>
  backups
    .map((backup) => ({
      phase: text(statusOf(backup).phase),
      finished: seconds(statusOf(backup).finishedAt),
      sizeBytes: statusOf(backup).sizeBytes
    }))
    .filter(
      (backup): backup is typeof backup & { finished: number } =>
        backup.finished !== undefined && (backup.phase === "Completed" || backup.phase === "Failed")
    )
    .sort((a, b) => b.finished - a.finished)

// Memos, so a scrape does not parse every schedule and decode every instance again: parsed schedules by expression
// and gaps by expression and baseline (both bounded), and each instance's restart interval by object (a cache
// replaces an object when it changes, so a changed instance is decoded afresh).
const parsedSchedules = boundedMemo<CronSchedule | undefined>(1024)
const scheduleGaps = boundedMemo<number | undefined>(4096)
const restartIntervals = new WeakMap<KubeObject, { readonly interval: string | undefined }>()

const restartIntervalOf = (instance: KubeObject): string | undefined => {
  let memo = restartIntervals.get(instance)
  if (memo === undefined) {
    const decoded = decodeConvexInstance(instance)
    memo = { interval: Either.isRight(decoded) ? decoded.right.spec.maintenance.restartInterval : undefined }
    restartIntervals.set(instance, memo)
  }
  return memo.interval
}

/**
 * The gap the backup-age alert doubles, for one schedule: the longer of (baseline → next run) and (next run → the
 * run after). For a regular schedule both are its period; for an irregular one (weekdays only) twice the longer gap
 * is never shorter than the time until the second run after the baseline, so the alert waits for two missed runs.
 */
const scheduleGap = (expression: string, baselineSeconds: number): number | undefined =>
  scheduleGaps(`${baselineSeconds} ${expression}`, () => {
    const schedule = parsedSchedules(expression, () => Either.getOrUndefined(parseCron(expression)))
    const first = schedule?.next(new Date(baselineSeconds * 1000))
    const second = first === undefined ? undefined : schedule?.next(first)
    if (first === undefined || second === undefined) return undefined
    return Math.max(first.getTime() / 1000 - baselineSeconds, (second.getTime() - first.getTime()) / 1000)
  })

const nextRestartSeconds = (instance: KubeObject, now: Date): number | undefined => {
  const interval = restartIntervalOf(instance)
  if (interval === undefined) return undefined
  const status = statusOf(instance)
  const ready = conditionOf(instance, "StatefulSetReady")
  const plan = planRestart({
    interval,
    lastRestartTime: text(status.lastRestartTime),
    readySince: ready?.status === "True" ? text(ready.lastTransitionTime) : undefined,
    upgrading: status.upgrade !== undefined,
    now
  })
  // A due restart happens at the next reconcile: it is due now.
  if (plan._tag === "Restart") return now.getTime() / 1000
  return plan._tag === "Waiting" && plan.dueAt !== undefined ? plan.dueAt.getTime() / 1000 : undefined
}

/** The per-instance metric families, from the cached objects at `now`. */
export const instanceMetrics = (input: InstanceMetricsInput, now: Date): ReadonlyArray<Metrics.CollectedFamily> => {
  const byInstance = <A extends KubeObject>(objects: ReadonlyArray<A>) => {
    const map = new Map<string, Array<A>>()
    for (const object of objects) {
      const key = keyOf(object.metadata.namespace, instanceRefOf(object))
      const list = map.get(key)
      if (list === undefined) map.set(key, [object])
      else list.push(object)
    }
    return map
  }
  const backupsOf = byInstance(input.backups)
  const schedulesOf = byInstance(input.scheduledBackups)
  const instances = [...input.instances].sort((a, b) =>
    Order.string(keyOf(a.metadata.namespace, a.metadata.name), keyOf(b.metadata.namespace, b.metadata.name))
  )
  const families = Object.fromEntries(
    Object.keys(instanceMetricFamilies).map((id) => [id, [] as Array<Metrics.Sample>])
  ) as Record<keyof typeof instanceMetricFamilies, Array<Metrics.Sample>>

  for (const instance of instances) {
    const labels = { namespace: instance.metadata.namespace ?? "", name: instance.metadata.name ?? "" }
    const status = statusOf(instance)
    const key = keyOf(instance.metadata.namespace, instance.metadata.name)
    families.ready.push({ labels, value: conditionOf(instance, "Ready")?.status === "True" ? 1 : 0 })
    const phase = text(status.phase)
    for (const each of Phase.literals)
      families.phase.push({ labels: { ...labels, phase: each }, value: each === phase ? 1 : 0 })
    const step = text(record(status.upgrade).phase)
    for (const each of UpgradePhase.literals) {
      families.upgradeStep.push({ labels: { ...labels, step: each }, value: each === step ? 1 : 0 })
    }

    const finished = finishedBackups(backupsOf.get(key) ?? [])
    const success = finished.find((backup) => backup.phase === "Completed")
    if (success !== undefined) {
      families.lastBackupSuccess.push({ labels, value: success.finished })
      if (typeof success.sizeBytes === "number") families.lastBackupSize.push({ labels, value: success.sizeBytes })
    }
    families.lastBackupFailed.push({ labels, value: finished[0]?.phase === "Failed" ? 1 : 0 })

    const active = (schedulesOf.get(key) ?? [])
      .filter((schedule) => specOf(schedule).suspend !== true)
      .map((schedule) => ({
        expression: text(specOf(schedule).schedule),
        created: seconds(schedule.metadata.creationTimestamp)
      }))
      .filter((schedule): schedule is { expression: string; created: number } => {
        return schedule.expression !== undefined && schedule.created !== undefined
      })
    if (active.length > 0) {
      const created = Math.min(...active.map((schedule) => schedule.created))
      // The alert measures from the later of the last success and the oldest schedule's creation; so does the gap.
      const baseline = Math.max(success?.finished ?? created, created)
      const gaps = active
        .map((schedule) => scheduleGap(schedule.expression, baseline))
        .filter((gap): gap is number => gap !== undefined)
      families.scheduleCreated.push({ labels, value: created })
      if (gaps.length > 0) families.scheduleInterval.push({ labels, value: Math.min(...gaps) })
    }

    const restart = nextRestartSeconds(instance, now)
    if (restart !== undefined) families.nextRestart.push({ labels, value: restart })
  }

  return Object.entries(instanceMetricFamilies).map(([id, family]) => ({
    ...family,
    type: "gauge" as const,
    samples: families[id as keyof typeof instanceMetricFamilies]
  }))
}
