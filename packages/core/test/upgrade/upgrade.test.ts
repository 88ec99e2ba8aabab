/** The upgrade saga's successful paths, step by step, under the TestClock. */
import {
  type ConvexBackupObject,
  findCondition,
  imagesHash,
  type Job,
  upgradeBackupOutcome,
  upgradeHashLabel
} from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { find, minimal, settle } from "../decide/support.js"
import { condition, has, jobsOf, names, readyOnV1, retarget, runUntil, tick, v1, v2, where } from "./saga.js"

const backendImage = (decision: Parameters<typeof find>[0]) =>
  find(decision, "StatefulSet", names.backend).spec.template.spec.containers[0]?.image
const readyOn = (version: string) => (world: { decision: { status: { phase?: string; currentVersion?: string } } }) =>
  world.decision.status.phase === "Ready" && world.decision.status.currentVersion === version

describe("upgrade saga: success", () => {
  it("a first install is not an upgrade: it records the hash and version once the backend is ready", () => {
    const settled = settle(minimal({ version: v1 }), [])
    expect(settled.decision.status.upgradeHash).toBeDefined()
    expect(settled.decision.status.currentVersion).toBe(v1)
    expect(settled.decision.status.upgrade).toBeUndefined()
    expect(condition(settled.decision, "UpgradeInProgress")).toBe("False/UpToDate")
  })

  it("a spec whose images already run is not an upgrade", () => {
    const settled = settle(minimal({ version: v1 }), [])
    expect(settled.decision.status.upgradeHash).toBe(
      imagesHash({
        version: v1,
        backend: `ghcr.io/get-convex/convex-backend:${v1}`,
        dashboard: `ghcr.io/get-convex/convex-dashboard:${v1}`
      })
    )
  })

  it.effect("inPlace: a pre-upgrade ConvexBackup on the old images, roll, Ready; traffic flows throughout", () =>
    Effect.gen(function* () {
      const ready = yield* readyOnV1("inPlace")
      const exporting = yield* tick(retarget(ready, v2, "inPlace"), { job: () => "Running" })
      const upgrade = exporting.decision.status.upgrade
      const hash = upgrade?.targetHash ?? ""
      const backupName = names.preUpgradeBackup(hash, 1)
      expect(upgrade).toMatchObject({
        phase: "Exporting",
        strategy: "inPlace",
        fromVersion: v1,
        toVersion: v2,
        attempt: 1,
        maxAttempt: 3,
        stepStartedAt: "2025-06-01T12:00:00Z",
        backup: backupName
      })
      expect(upgrade?.savedEnvSecret).toBeUndefined()
      expect(exporting.decision.status.phase).toBe("Upgrading")
      expect(backendImage(exporting.decision)).toContain(v1)
      // No Job of the instance: the ConvexBackup's controller runs the export.
      expect(jobsOf(exporting.decision)).toEqual([])
      const backup: ConvexBackupObject = find(exporting.decision, "ConvexBackup", backupName)
      expect(backup.metadata.labels).toMatchObject({
        [upgradeHashLabel]: hash,
        "app.kubernetes.io/instance": "demo",
        "app.kubernetes.io/managed-by": "convex-operator"
      })
      // Owned by nothing: deleting the instance keeps it.
      expect(backup.metadata.ownerReferences).toBeUndefined()
      expect(backup.spec).toEqual({ instanceRef: { name: "demo" }, target: { pvc: {} }, deletionPolicy: "Retain" })
      expect(has(exporting.decision, "PersistentVolumeClaim", "demo-snapshots")).toBe(false)
      expect(has(exporting.decision, "Role")).toBe(false)
      expect(has(exporting.decision, "HTTPRoute")).toBe(true)
      expect(find(exporting.decision, "Deployment", names.dashboard).spec.replicas).toBe(1)
      expect(condition(exporting.decision, "UpgradeInProgress")).toBe("True/Exporting")
      expect(findCondition(exporting.decision.status.conditions, "UpgradeInProgress")?.message).toBe(
        `upgrade from ${v1} to ${v2}: exporting a snapshot of the running version (attempt 1 of 3), since 2025-06-01T12:00:00Z`
      )
      expect(condition(exporting.decision, "ExportCompleted")).toBe("False/InProgress")
      expect(findCondition(exporting.decision.status.conditions, "ExportCompleted")?.message).toBe(
        `the pre-upgrade ConvexBackup ${backupName} runs`
      )
      expect(condition(exporting.decision, "ImportCompleted")).toBe("False/NotRequired")

      // The backup runs: it is not rendered again (its spec is immutable), nothing to apply, nothing changes.
      const still = yield* tick(exporting, { job: () => "Running" })
      expect(upgradeBackupOutcome(still.objects.find((object) => object.kind === "ConvexBackup"))).toBe("Running")
      expect(has(still.decision, "ConvexBackup")).toBe(false)
      expect(still.decision.apply).toEqual([])
      expect(still.decision.statusChanged).toBe(false)

      const { world, seen } = yield* runUntil(exporting, readyOn(v2))
      // Each decision sees what the cluster made of the previous one (here: the Job that has just succeeded).
      expect(seen).toEqual(["Upgrading/Exporting/Exporting#1", "Upgrading/Rolling/Rolling#1", "Ready/UpToDate"])
      expect(world.decision.status.upgrade).toBeUndefined()
      expect(world.decision.status.upgradeHash).toBe(hash)
      expect(backendImage(world.decision)).toContain(v2)
      expect(condition(world.decision, "ExportCompleted")).toBe("True/Succeeded")
      expect(world.objects.filter((object) => object.kind === "ConvexBackup").map((b) => b.metadata.name)).toEqual([
        backupName
      ])
      expect(jobsOf(world.decision)).toEqual([])
      // The pre-upgrade backup is never deleted.
      expect(world.decision.delete.map((ref) => ref.kind)).not.toContain("ConvexBackup")
      const steady = yield* tick(world)
      expect(steady.decision.apply).toEqual([])
      expect(steady.decision.statusChanged).toBe(false)
    })
  )

  it.effect("preUpgradeBackup.target sends the pre-upgrade ConvexBackup to a bucket", () =>
    Effect.gen(function* () {
      const s3 = { bucket: "convex-backups", prefix: "upgrades", secretRef: { name: "backup-s3" } }
      const extra = { maintenance: { upgradeStrategy: "inPlace", preUpgradeBackup: { target: { s3 } } } }
      const ready = yield* readyOnV1("inPlace", extra)
      const exporting = yield* tick(retarget(ready, v2, "inPlace", extra), { job: () => "Running" })
      const name = exporting.decision.status.upgrade?.backup ?? ""
      const backup: ConvexBackupObject = find(exporting.decision, "ConvexBackup", name)
      // As the apiserver stores it (defaults filled in), so it is never applied again.
      expect(backup.spec.target).toEqual({
        s3: {
          ...s3,
          region: "us-east-1",
          forcePathStyle: false,
          secretRef: {
            name: "backup-s3",
            accessKeyIdKey: "AWS_ACCESS_KEY_ID",
            secretAccessKeyKey: "AWS_SECRET_ACCESS_KEY"
          }
        }
      })
    })
  )

  it.effect("inPlace with preUpgradeBackup.enabled false: starts at the roll, no ConvexBackup", () =>
    Effect.gen(function* () {
      const disabled = { maintenance: { upgradeStrategy: "inPlace", preUpgradeBackup: { enabled: false } } }
      const ready = yield* readyOnV1("inPlace", disabled)
      const rolling = yield* tick(retarget(ready, v2, "inPlace", disabled), {
        backendReady: (image) => !image.includes(v2)
      })
      const upgrade = rolling.decision.status.upgrade
      expect(upgrade).toMatchObject({ phase: "Rolling", strategy: "inPlace", fromVersion: v1, toVersion: v2 })
      expect(upgrade?.backup).toBeUndefined()
      expect(backendImage(rolling.decision)).toContain(v2)
      expect(jobsOf(rolling.decision)).toEqual([])
      expect(has(rolling.decision, "ConvexBackup")).toBe(false)
      expect(condition(rolling.decision, "UpgradeInProgress")).toBe("True/Rolling")
      expect(condition(rolling.decision, "ExportCompleted")).toBe("False/Disabled")
      expect(findCondition(rolling.decision.status.conditions, "ExportCompleted")?.message).toContain(
        "spec.maintenance.preUpgradeBackup.enabled is false"
      )

      const { world, seen } = yield* runUntil(rolling, readyOn(v2))
      expect(seen).toEqual(["Upgrading/Rolling/Rolling#1", "Ready/UpToDate"])
      expect(condition(world.decision, "ExportCompleted")).toBe("False/Disabled")
      expect(condition(world.decision, "ImportCompleted")).toBe("False/NotRequired")
    })
  )

  it.effect("exportImport: stops traffic, exports, saves env, rolls, imports, restores env, reattaches traffic", () =>
    Effect.gen(function* () {
      const ready = yield* readyOnV1("exportImport")
      const start = retarget(ready, v2, "exportImport")
      const exporting = yield* tick(start, { job: () => "Running" })
      const hash = exporting.decision.status.upgrade?.targetHash ?? ""
      expect(exporting.decision.status.upgrade).toMatchObject({ savedEnvSecret: names.savedEnv(hash) })
      // Traffic stops: routes withdrawn, the dashboard scaled to 0.
      expect(has(exporting.decision, "HTTPRoute")).toBe(false)
      expect(exporting.decision.delete.map((ref) => ref.kind)).toContain("HTTPRoute")
      expect(find(exporting.decision, "Deployment", names.dashboard).spec.replicas).toBe(0)
      expect(condition(exporting.decision, "HTTPRouteReady")).toBe("False/TrafficStopped")
      expect(condition(exporting.decision, "DashboardReady")).toBe("False/TrafficStopped")
      expect(exporting.decision.status.endpoints?.dashboardUrl).toBeUndefined()
      // The env Jobs' ServiceAccount and Role: one Secret, get/create/patch.
      expect(find(exporting.decision, "Role", names.envAccess).rules).toEqual([
        {
          apiGroups: [""],
          resources: ["secrets"],
          resourceNames: [names.savedEnv(hash)],
          verbs: ["create", "get", "patch"]
        }
      ])
      expect(find(exporting.decision, "RoleBinding", names.envAccess)).toMatchObject({
        roleRef: { kind: "Role", name: names.envAccess },
        subjects: [{ kind: "ServiceAccount", name: names.envAccess, namespace: "convex" }]
      })
      expect(find(exporting.decision, "ServiceAccount", names.envAccess).metadata.ownerReferences).toHaveLength(1)

      const { world: savingEnv } = yield* runUntil(
        exporting,
        (world) => world.decision.status.upgrade?.phase === "SavingEnv",
        { job: (step) => (step === "Export" ? "Succeeded" : "Running") }
      )
      expect(where(savingEnv.decision)).toBe("Upgrading/SavingEnv/SavingEnv#1")
      expect(backendImage(savingEnv.decision)).toContain(v1)
      const envSave: Job = find(savingEnv.decision, "Job", names.envSaveJob(hash))
      expect(envSave.spec.template.spec).toMatchObject({
        serviceAccountName: names.envAccess,
        automountServiceAccountToken: true
      })
      expect(envSave.spec.template.spec.containers[0]?.args).toEqual([
        "snapshot",
        "env-save",
        "--secret",
        names.savedEnv(hash),
        "--namespace",
        "convex"
      ])
      expect(envSave.spec.template.spec.volumes).toBeUndefined()
      expect(condition(savingEnv.decision, "ExportCompleted")).toBe("True/Succeeded")

      const { world, seen, events } = yield* runUntil(savingEnv, readyOn(v2))
      expect(seen).toEqual([
        "Upgrading/SavingEnv/SavingEnv#1",
        "Upgrading/Rolling/Rolling#1",
        "Upgrading/Importing/Importing#1",
        "Upgrading/RestoringEnv/RestoringEnv#1",
        // The routes are applied again and wait to be accepted.
        "Pending/UpToDate",
        "Ready/UpToDate"
      ])
      expect(condition(world.decision, "ImportCompleted")).toBe("True/Succeeded")
      expect(has(world.decision, "HTTPRoute")).toBe(true)
      expect(find(world.decision, "Deployment", names.dashboard).spec.replicas).toBe(1)
      expect(has(world.decision, "Role")).toBe(false)
      expect(has(world.decision, "ServiceAccount")).toBe(false)
      // One event per step, then the import's completion and the upgrade's.
      expect(
        events.filter((event) => event.action === "Upgrade").map((event) => `${event.type}/${event.reason}`)
      ).toEqual([
        "Normal/Rolling",
        "Normal/Importing",
        "Normal/InProgress",
        "Normal/RestoringEnv",
        "Normal/Succeeded",
        "Normal/UpgradeCompleted"
      ])
      expect(events.at(-1)).toMatchObject({ type: "Normal", reason: "Ready" })
    })
  )

  it.effect("exportImport: the import and env-restore Jobs run on the new version with the saved-env Secret", () =>
    Effect.gen(function* () {
      const ready = yield* readyOnV1("exportImport")
      const { world: importing } = yield* runUntil(
        retarget(ready, v2, "exportImport"),
        (world) => world.decision.status.upgrade?.phase === "Importing",
        { job: (step) => (step === "Import" ? "Running" : "Succeeded") }
      )
      const hash = importing.decision.status.upgrade?.targetHash ?? ""
      expect(backendImage(importing.decision)).toContain(v2)
      // The restore Job of spec.restore, reading the ZIP the pre-upgrade backup recorded, one pod per attempt.
      const importJob: Job = find(importing.decision, "Job", names.importJob(hash))
      expect(importJob.metadata.annotations).toEqual({ "convex.icod.de/attempt": "1" })
      expect(importJob.spec.backoffLimit).toBe(0)
      expect(importJob.spec.template.spec.containers[0]?.args).toEqual([
        "snapshot",
        "import",
        "--path",
        `/backups/${names.preUpgradeBackup(hash, 1)}.zip`,
        "--replace-all"
      ])
      expect(importJob.spec.template.spec.volumes).toEqual([
        { name: "backups", persistentVolumeClaim: { claimName: "demo-backups" } }
      ])
      expect(condition(importing.decision, "ImportCompleted")).toBe("False/InProgress")
      const { world: restoring } = yield* runUntil(
        importing,
        (world) => world.decision.status.upgrade?.phase === "RestoringEnv",
        { job: (step) => (step === "RestoreEnv" ? "Running" : "Succeeded") }
      )
      expect(jobsOf(restoring.decision)).toEqual([`${names.envRestoreJob(hash)}#1`])
      expect(find(restoring.decision, "Job", names.envRestoreJob(hash)).spec.template.spec.containers[0]?.args).toEqual(
        ["snapshot", "env-restore", "--secret", names.savedEnv(hash), "--namespace", "convex"]
      )
      // Traffic stays stopped until the variables are back.
      expect(has(restoring.decision, "HTTPRoute")).toBe(false)
      expect(condition(restoring.decision, "ImportCompleted")).toBe("True/Succeeded")

      // The Jobs of the steps done stay (for their logs) until the upgrade ends, then go.
      const doneJobs = [names.envSaveJob(hash), names.importJob(hash)].map((name) => ({
        ...find(importing.decision, "Job", names.importJob(hash)),
        metadata: { ...find(importing.decision, "Job", names.importJob(hash)).metadata, name }
      }))
      const kept = yield* tick({ ...restoring, objects: [...restoring.objects, ...doneJobs] }, { job: () => "Running" })
      expect(kept.decision.delete.filter((ref) => ref.kind === "Job")).toEqual([])
      const ended = yield* tick({ ...restoring, objects: [...restoring.objects, ...doneJobs] })
      const ending = yield* tick({ ...ended, objects: [...ended.objects, ...doneJobs] })
      expect(ending.decision.status.upgrade).toBeUndefined()
      expect(ending.decision.delete.filter((ref) => ref.kind === "Job").map((ref) => ref.name)).toEqual([
        names.envRestoreJob(hash),
        ...doneJobs.map((job) => job.metadata.name)
      ])
    })
  )
})
