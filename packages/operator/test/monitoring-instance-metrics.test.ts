/** The per-instance metrics (monitoring/instance-metrics.ts): a pure function of cached objects and the time. */
import type { KubeObject } from "@convex-operator/k8s"
import { describe, expect, it } from "vitest"
import { instanceMetricFamilies, instanceMetrics } from "../src/monitoring/instance-metrics.js"

const now = new Date("2026-03-06T12:00:00Z") // a Friday
const unix = (time: string) => Date.parse(time) / 1000

const instance = (name: string, status: Record<string, unknown> = {}, spec: Record<string, unknown> = {}) =>
  ({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name, namespace: "apps", uid: `uid-${name}` },
    spec: { environment: "dev", version: "1111111111111111111111111111111111111111", ...spec },
    status
  }) as unknown as KubeObject

const backup = (name: string, of: string, status: Record<string, unknown>, namespace = "apps") =>
  ({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexBackup",
    metadata: { name, namespace },
    spec: { instanceRef: { name: of }, target: { volume: {} } },
    status
  }) as unknown as KubeObject

const schedule = (name: string, of: string, cron: string, created: string, suspend = false) =>
  ({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexScheduledBackup",
    metadata: { name, namespace: "apps", creationTimestamp: created },
    spec: { instanceRef: { name: of }, schedule: cron, target: { volume: {} }, suspend }
  }) as unknown as KubeObject

const condition = (type: string, status: string, lastTransitionTime = "2026-03-01T00:00:00Z") => ({
  type,
  status,
  lastTransitionTime,
  reason: "R",
  message: ""
})

type Input = Partial<Parameters<typeof instanceMetrics>[0]>
const compute = (input: Input, at = now) =>
  instanceMetrics({ instances: [], backups: [], scheduledBackups: [], ...input }, at)

/** The samples of one family as `labels → value`, labels in a fixed order. */
const family = (input: Input, id: keyof typeof instanceMetricFamilies, at = now) => {
  const found = compute(input, at).find((f) => f.name === instanceMetricFamilies[id].name)
  return Object.fromEntries(
    (found?.samples ?? []).map((s) => [Object.values(s.labels).join("/"), s.value] as const)
  ) as Record<string, number>
}

describe("instanceMetrics", () => {
  it("serves every family, each a gauge with HELP text and names in the convex_operator_instance_ prefix", () => {
    const families = compute({ instances: [instance("a")] })
    expect(families.map((f) => f.name)).toEqual(Object.values(instanceMetricFamilies).map((f) => f.name))
    for (const f of families) {
      expect(f.name).toMatch(/^convex_operator_instance_[a-z_]+$/)
      expect(f.type).toBe("gauge")
      expect(f.help.length).toBeGreaterThan(20)
    }
  })

  it("Ready is 1 only with a True Ready condition; phase has one series per phase, 1 for the current one", () => {
    const input = {
      instances: [
        instance("up", { phase: "Ready", conditions: [condition("Ready", "True")] }),
        instance("down", { phase: "Error", conditions: [condition("Ready", "False")] }),
        instance("new")
      ]
    }
    expect(family(input, "ready")).toEqual({ "apps/down": 0, "apps/new": 0, "apps/up": 1 })
    const phases = family(input, "phase")
    expect(Object.keys(phases)).toHaveLength(3 * 5)
    expect(Object.entries(phases).filter(([, v]) => v === 1)).toEqual([
      ["apps/down/Error", 1],
      ["apps/up/Ready", 1]
    ])
  })

  it("the upgrade step in progress is 1; with no upgrade every step is 0", () => {
    const input = {
      instances: [instance("moving", { phase: "Upgrading", upgrade: { phase: "Importing" } }), instance("still")]
    }
    const steps = family(input, "upgradeStep")
    expect(Object.keys(steps)).toHaveLength(2 * 6)
    expect(Object.entries(steps).filter(([, v]) => v === 1)).toEqual([["apps/moving/Importing", 1]])
    expect(steps["apps/still/Failed"]).toBe(0)
  })

  it("backups: the newest Completed gives time and size; last_failed follows the newest finished one", () => {
    const backups = [
      backup("old", "a", { phase: "Completed", finishedAt: "2026-03-04T03:10:00Z", sizeBytes: 100 }),
      backup("good", "a", { phase: "Completed", finishedAt: "2026-03-05T03:10:00Z", sizeBytes: 2048 }),
      backup("bad", "a", { phase: "Failed", finishedAt: "2026-03-06T03:05:00Z" }),
      backup("running", "a", { phase: "Running" }),
      // Another instance's, another namespace's, and an instance that does not exist: not counted for a.
      backup("b1", "b", { phase: "Completed", finishedAt: "2026-03-06T04:00:00Z", sizeBytes: 7 }),
      backup("elsewhere", "a", { phase: "Completed", finishedAt: "2026-03-06T05:00:00Z" }, "other"),
      backup("orphan", "gone", { phase: "Failed", finishedAt: "2026-03-06T05:00:00Z" })
    ]
    const input = { instances: [instance("a"), instance("b")], backups }
    expect(family(input, "lastBackupSuccess")).toEqual({
      "apps/a": unix("2026-03-05T03:10:00Z"),
      "apps/b": unix("2026-03-06T04:00:00Z")
    })
    expect(family(input, "lastBackupSize")).toEqual({ "apps/a": 2048, "apps/b": 7 })
    expect(family(input, "lastBackupFailed")).toEqual({ "apps/a": 1, "apps/b": 0 })
    // A newer success clears the failure.
    const recovered = [...backups, backup("again", "a", { phase: "Completed", finishedAt: "2026-03-06T06:00:00Z" })]
    expect(family({ ...input, backups: recovered }, "lastBackupFailed")["apps/a"]).toBe(0)
    expect(family({ ...input, backups: recovered }, "lastBackupSize")["apps/a"]).toBeUndefined()
  })

  it("schedule interval: the period of a regular schedule, from its creation before the first success", () => {
    const input = {
      instances: [instance("a")],
      scheduledBackups: [schedule("daily", "a", "0 3 * * *", "2026-03-01T12:00:00Z")]
    }
    expect(family(input, "scheduleInterval")).toEqual({ "apps/a": 24 * 3600 })
    expect(family(input, "scheduleCreated")).toEqual({ "apps/a": unix("2026-03-01T12:00:00Z") })
    // The most frequent of two active schedules; a suspended one does not count.
    const more = {
      ...input,
      scheduledBackups: [
        ...input.scheduledBackups,
        schedule("hourly", "a", "@hourly", "2026-03-02T00:00:00Z"),
        schedule("often", "a", "*/5 * * * *", "2026-03-02T00:00:00Z", true)
      ]
    }
    expect(family(more, "scheduleInterval")).toEqual({ "apps/a": 3600 })
    expect(family({ instances: [instance("a")] }, "scheduleInterval")).toEqual({})
  })

  it("schedule interval of a weekdays schedule after Friday's backup spans the weekend: no page on Sunday", () => {
    const input = {
      instances: [instance("a")],
      backups: [backup("fri", "a", { phase: "Completed", finishedAt: "2026-03-06T03:10:00Z" })],
      scheduledBackups: [schedule("weekdays", "a", "0 3 * * 1-5", "2026-01-01T00:00:00Z")]
    }
    const interval = family(input, "scheduleInterval")["apps/a"] ?? 0
    const last = family(input, "lastBackupSuccess")["apps/a"] ?? 0
    // Friday 03:10 → Monday 03:00 is the longer gap; the alert (age > 2 × interval) waits past Tuesday 03:00.
    expect(interval).toBe(unix("2026-03-09T03:00:00Z") - last)
    const firesAt = last + 2 * interval
    expect(firesAt).toBeGreaterThan(unix("2026-03-10T03:00:00Z"))
  })

  it("next restart: the readiness time plus restartInterval, or the last restart's; absent when disabled", () => {
    const ready = [condition("Ready", "True"), condition("StatefulSetReady", "True", "2026-03-05T00:00:00Z")]
    const input = {
      instances: [
        instance("weekly", { phase: "Ready", conditions: ready }),
        instance(
          "restarted",
          { conditions: ready, lastRestartTime: "2026-03-06T06:00:00Z" },
          {
            maintenance: { restartInterval: "24h" }
          }
        ),
        instance("never", { conditions: ready }, { maintenance: { restartInterval: "0s" } }),
        instance("upgrading", { conditions: ready, upgrade: { phase: "Rolling" } }),
        instance("starting")
      ]
    }
    expect(family(input, "nextRestart")).toEqual({
      "apps/weekly": unix("2026-03-12T00:00:00Z"),
      "apps/restarted": unix("2026-03-07T06:00:00Z")
    })
    // Past due: due now (the next reconcile restarts it).
    const later = new Date("2026-03-13T00:00:00Z")
    expect(family(input, "nextRestart", later)["apps/weekly"]).toBe(later.getTime() / 1000)
    // A changed instance is a new object in the cache: its new interval counts (nothing memoized from the old one).
    const changed = {
      instances: [instance("weekly", { conditions: ready }, { maintenance: { restartInterval: "200h" } })]
    }
    expect(family(changed, "nextRestart")).toEqual({ "apps/weekly": unix("2026-03-13T08:00:00Z") })
  })
})
