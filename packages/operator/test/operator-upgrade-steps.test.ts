/**
 * Upgrade sagas through the whole operator on the in-memory apiserver, the test playing the cluster (it completes
 * each step's Job and rolls the backend out). At every step:
 *
 * - the instance has its saga fiber (sagas/upgrade.ts), one, for as long as the upgrade runs, and none after;
 * - waiting is free: while only the TestClock moves (ten minutes, under the roll's 30 min timeout) the operator
 *   starts no reconcile and sends no request, so the saga is advanced by the change of its Job or backup, not by
 *   polling;
 * - the operator is stopped (its Scope closed) and a new one started on the same apiserver: it resumes at the same
 *   step and creates nothing again; across all the restarts each step's Job or ConvexBackup is created exactly once
 *   (the same UID from when it appeared to the end).
 */
import { KubeClient } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { ConvexInstances } from "../src/shell/resources.js"
import {
  getInstance,
  jobSucceeded,
  jobsAndBackups,
  layers,
  type RunningOperator,
  readyInstance,
  requestCount,
  requestsSince,
  rollOutUntil,
  runOperator,
  settle,
  statusOf,
  untilReady,
  untilStatus,
  v2,
  wholeOperatorTimeout
} from "./support/operator-harness.js"

/** How one step of the saga ends: a Job or ConvexBackup of its own that the test completes, or the roll. */
type Step = { readonly phase: string; readonly creates: "Job" | "ConvexBackup" | undefined }

const upgradePhase = Effect.map(getInstance("demo"), (object) => statusOf(object).upgrade?.phase)

/** Runs the upgrade to v2 through `steps`, checking each as the file's comment says. */
const walk = (spec: Record<string, unknown>, steps: ReadonlyArray<Step>) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(Date.parse("2026-03-01T00:00:00Z"))
    const reconciles: Array<string> = []
    let operator: RunningOperator = yield* runOperator(reconciles)
    yield* readyInstance("demo", spec)
    const kube = yield* KubeClient
    const created = new Map(yield* jobsAndBackups)
    expect([...created.keys()]).toEqual([])

    yield* kube.patch(ConvexInstances, "demo", { spec: { version: v2 } }, { namespace: "apps", type: "merge" })
    for (const step of steps) {
      yield* untilStatus("demo", `upgrade phase ${step.phase}`, (status) => status.upgrade?.phase === step.phase)
      yield* settle
      // What this step created: exactly one Job or ConvexBackup (the backup controller adds the backup's own Job).
      const now = yield* jobsAndBackups
      const added = [...now.keys()].filter((key) => !created.has(key))
      for (const key of added) created.set(key, now.get(key) ?? "")
      const own = added.filter((key) => step.creates !== undefined && key.startsWith(`${step.creates}/`))
      expect(own, `what ${step.phase} created`).toHaveLength(step.creates === undefined ? 0 : 1)
      expect(operator.upgradeSagas(), `the saga fiber at ${step.phase}`).toEqual(["apps/demo"])

      // Only time passes: no reconcile, not a request.
      const before = yield* requestCount
      reconciles.length = 0
      yield* TestClock.adjust("10 minutes")
      yield* settle
      expect(reconciles, `reconciles while ${step.phase} waits`).toEqual([])
      expect(yield* requestsSince(before), `requests while ${step.phase} waits`).toEqual([])

      // A new operator resumes at this step and creates nothing again.
      yield* operator.stop
      operator = yield* runOperator(reconciles)
      yield* settle
      expect(yield* upgradePhase).toBe(step.phase)
      expect(yield* jobsAndBackups).toEqual(created)
      expect(operator.upgradeSagas(), `the saga fiber resumed at ${step.phase}`).toEqual(["apps/demo"])

      // The cluster completes the step.
      if (step.creates === "ConvexBackup") {
        const backupJob = added.find((key) => key.startsWith("Job/"))
        expect(backupJob, "the backup's Job").toBeDefined()
        yield* jobSucceeded((backupJob ?? "").slice("Job/".length))
      } else if (step.creates === "Job") {
        yield* jobSucceeded((own[0] ?? "").slice("Job/".length))
      } else {
        yield* rollOutUntil("demo", "the roll done", (status) => status.upgrade?.phase !== step.phase)
      }
    }
    yield* untilStatus(
      "demo",
      "the upgrade done",
      (status) => status.upgrade === undefined || status.upgrade.phase === undefined
    )
    yield* untilReady("demo")
    const done = yield* getInstance("demo")
    expect((done.status as { currentVersion?: string }).currentVersion).toBe(v2)
    yield* settle
    expect(operator.upgradeSagas(), "saga fibers after the upgrade").toEqual([])
    // Done: the upgrade's Jobs may be gone (the operator deletes them), but nothing was made again.
    for (const [key, uid] of yield* jobsAndBackups) expect(created.get(key), key).toBe(uid)
    yield* operator.stop
  })

describe("an upgrade through the operator", () => {
  it.scoped(
    "inPlace: waits on its backup and roll without polling, and resumes after a restart at every step",
    () =>
      walk({}, [
        { phase: "Exporting", creates: "ConvexBackup" },
        { phase: "Rolling", creates: undefined }
      ]).pipe(Effect.provide(layers)),
    wholeOperatorTimeout
  )

  it.scoped(
    "exportImport: waits on each Job without polling, and resumes after a restart at every step",
    () =>
      walk({ maintenance: { upgradeStrategy: "exportImport" } }, [
        { phase: "Exporting", creates: "ConvexBackup" },
        { phase: "SavingEnv", creates: "Job" },
        { phase: "Rolling", creates: undefined },
        { phase: "Importing", creates: "Job" },
        { phase: "RestoringEnv", creates: "Job" }
      ]).pipe(Effect.provide(layers)),
    wholeOperatorTimeout
  )
})
