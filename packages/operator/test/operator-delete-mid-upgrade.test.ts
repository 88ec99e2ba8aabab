/**
 * Deleting an instance in the middle of an exportImport upgrade (its env-save Job running, after the pre-upgrade
 * backup), through the whole operator on the in-memory apiserver: the upgrade goes no further (its saga fiber is
 * interrupted; nothing is created or applied from the delete on). With `deletionPolicy: Delete` the finalizer's
 * cleanup deletes the instance's Jobs and its data claim, then the finalizer is removed and the instance is gone. With
 * `Retain` no finalizer holds it: it is gone at once, the operator sends nothing, and its Jobs, every one owned by it,
 * go with the garbage collector (which the in-memory apiserver runs at once). Then nothing more happens for it, however
 * long the clock runs. The pre-upgrade ConvexBackup stays (the operator never deletes one).
 */
import { managedBy } from "@convex-operator/core"
import { KubeClient, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { ConvexBackups } from "../src/shell/backup-resources.js"
import { ConvexInstances } from "../src/shell/resources.js"
import {
  jobSucceeded,
  jobsAndBackups,
  layers,
  namespace,
  readyInstance,
  requestCount,
  requestsSince,
  runOperator,
  settle,
  until,
  untilStatus,
  v2,
  wholeOperatorTimeout
} from "./support/operator-harness.js"

const instanceJobObjects = Effect.flatMap(KubeClient, (kube) =>
  kube.list(Resource.Job, {
    namespace,
    labelSelector: `app.kubernetes.io/managed-by=${managedBy},app.kubernetes.io/instance=demo`
  })
).pipe(Effect.map((list) => list.items))
const instanceJobs = Effect.map(instanceJobObjects, (jobs) => jobs.map((job) => job.metadata.name))

const claimExists = Effect.flatMap(KubeClient, (kube) =>
  kube.get(Resource.PersistentVolumeClaim, "demo-backend-pvc", { namespace }).pipe(
    Effect.as(true),
    Effect.catchTag("NotFound", () => Effect.succeed(false))
  )
)

const deleteMidUpgrade = (deletionPolicy: "Delete" | "Retain") =>
  Effect.gen(function* () {
    yield* TestClock.setTime(Date.parse("2026-03-01T00:00:00Z"))
    const kube = yield* KubeClient
    const reconciles: Array<string> = []
    const operator = yield* runOperator(reconciles)
    yield* readyInstance("demo", {
      maintenance: { upgradeStrategy: "exportImport" },
      backend: { storage: { pvc: { deletionPolicy } } }
    })
    expect(yield* claimExists).toBe(true)

    // Upgrading: the export completes, the env-save Job runs.
    yield* kube.patch(ConvexInstances, "demo", { spec: { version: v2 } }, { namespace, type: "merge" })
    yield* untilStatus("demo", "the export", (status) => status.upgrade?.phase === "Exporting")
    yield* settle
    const backupJob = [...(yield* jobsAndBackups).keys()].find((key) => key.startsWith("Job/demo-pre-upgrade-"))
    yield* jobSucceeded((backupJob ?? "").slice("Job/".length))
    yield* untilStatus("demo", "the env save", (status) => status.upgrade?.phase === "SavingEnv")
    yield* settle
    expect((yield* instanceJobs).filter((name) => name?.startsWith("demo-envsave-"))).toHaveLength(1)
    expect(operator.upgradeSagas()).toEqual(["apps/demo"])

    // Deleted mid-step.
    const { uid } = (yield* kube.get(ConvexInstances, "demo", { namespace })).metadata
    for (const job of yield* instanceJobObjects)
      expect(job.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: "ConvexInstance", name: "demo", uid, controller: true })
      ])
    const from = yield* requestCount
    yield* kube.delete(ConvexInstances, "demo", { namespace })
    yield* until(
      "the instance gone",
      kube.get(ConvexInstances, "demo", { namespace }).pipe(
        Effect.as(false),
        Effect.catchTag("NotFound", () => Effect.succeed(true))
      )
    )
    yield* settle
    expect(operator.upgradeSagas()).toEqual([])
    const served = yield* requestsSince(from)
    expect(served.filter((request) => request.startsWith("APPLY") || request.startsWith("POST"))).toEqual([])
    // The operator's writes since (the test's own delete aside): with Retain, nothing holds the instance, so none.
    const operatorWrites = served.filter(
      (request) => !/^(GET|LIST) /.test(request) && request !== `DELETE convexinstances ${namespace}/demo`
    )
    if (deletionPolicy === "Delete") expect(operatorWrites.filter((r) => r.startsWith("DELETE jobs"))).not.toEqual([])
    else expect(operatorWrites).toEqual([])
    expect(yield* instanceJobs).toEqual([])
    expect(yield* claimExists).toBe(deletionPolicy === "Retain")
    const backups = yield* kube.list(ConvexBackups, { namespace })
    expect(backups.items.map((backup) => backup.metadata.name)).toEqual([(backupJob ?? "").slice(4, -"-backup".length)])

    // Gone for good: no reconcile of it, not a request, when the clock runs past every timer it had.
    const after = yield* requestCount
    reconciles.length = 0
    yield* TestClock.adjust("2 hours")
    yield* settle
    expect(reconciles).toEqual([])
    expect(yield* requestsSince(after)).toEqual([])
  })

describe("deleting an instance mid-upgrade, through the operator", () => {
  it.scoped(
    "stops the upgrade and cleans up: Jobs deleted, the data claim deleted (deletionPolicy Delete)",
    () => deleteMidUpgrade("Delete").pipe(Effect.provide(layers)),
    wholeOperatorTimeout
  )

  it.scoped(
    "stops the upgrade; nothing holds it: Jobs go with the garbage collector, the data claim stays (deletionPolicy Retain)",
    () => deleteMidUpgrade("Retain").pipe(Effect.provide(layers)),
    wholeOperatorTimeout
  )
})
