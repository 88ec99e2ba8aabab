/** Retention, the interlock with upgrades and restores, and the ConvexBackup decisions (Jobs, status, events). */
import {
  applyRetention,
  backupDataFinalizer,
  backupTurn,
  type ConvexBackup,
  decideBackup,
  decideBackupDeletion,
  decodeConvexBackup,
  formatSize,
  jobFailureDetail,
  type KubeObject,
  parseStoreReport,
  upgradeMayStart
} from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { minimal } from "../decide/support.js"

const now = new Date("2026-02-01T12:00:00Z")
const ago = (minutes: number) => new Date(now.getTime() - minutes * 60_000)

describe("retention", () => {
  const backups = [
    { name: "b1", phase: "Completed" as const, finishedAt: ago(50) },
    { name: "b2", phase: "Completed" as const, finishedAt: ago(40) },
    { name: "b3", phase: "Failed" as const, finishedAt: ago(35) },
    { name: "b4", phase: "Completed" as const, finishedAt: ago(30) },
    { name: "b5", phase: "Running" as const, finishedAt: ago(99) },
    { name: "b6", phase: "Completed" as const, finishedAt: ago(5) }
  ]
  it("keepLast keeps the newest N completed (and N failed); running backups are never pruned", () => {
    expect(applyRetention(backups, { keepLast: 2 }, now).prune).toEqual(["b1", "b2"])
    expect(applyRetention(backups, { keepLast: 1 }, now).prune).toEqual(["b1", "b2", "b4"])
  })
  it("maxAge prunes what finished longer ago and names the next expiry", () => {
    const decision = applyRetention(backups, { maxAge: "45m" }, now)
    expect(decision.prune).toEqual(["b1"])
    expect(decision.nextExpiry).toEqual(new Date(ago(40).getTime() + 45 * 60_000))
  })
  it("both: pruned when beyond either limit; none without retention", () => {
    expect(applyRetention(backups, { keepLast: 3, maxAge: "32m" }, now).prune).toEqual(["b1", "b2", "b3"])
    expect(applyRetention(backups, undefined, now).prune).toEqual([])
  })
})

const ready = (spec: Record<string, unknown> = {}, status: Record<string, unknown> = {}) => {
  const instance = minimal(spec, "app")
  return {
    ...instance,
    status: {
      conditions: [
        {
          type: "Ready",
          status: "True" as const,
          lastTransitionTime: "2026-01-01T00:00:00Z",
          reason: "BackendReady",
          message: ""
        }
      ],
      ...status
    }
  }
}
const turn = (name: string, phase: "Pending" | "Running" | "Completed" | undefined, createdAt: string) => ({
  name,
  phase,
  createdAt
})

describe("the interlock", () => {
  const self = turn("b2", undefined, "2026-02-01T11:00:00Z")
  it("starts a backup of a Ready instance with no other backup running or waiting before it", () => {
    expect(backupTurn(self, ready(), [self, turn("b0", "Completed", "2026-02-01T09:00:00Z")])._tag).toBe("Go")
  })
  it("waits while an upgrade exports or imports, while a restore is pending, and while the instance is not Ready", () => {
    const upgrading = ready(
      {},
      {
        upgrade: {
          phase: "Exporting",
          strategy: "inPlace",
          targetHash: "h",
          toVersion: "v2",
          fromBackendImage: "a",
          fromDashboardImage: "b",
          startedAt: "2026-02-01T11:00:00Z"
        }
      }
    )
    expect(backupTurn(self, upgrading, [])).toMatchObject({ _tag: "Wait", reason: "UpgradeInProgress" })
    expect(backupTurn(self, ready({ restore: { from: { backup: "old" } } }), [])).toMatchObject({
      reason: "RestoreInProgress"
    })
    expect(backupTurn(self, { ...ready(), status: {} }, [])).toMatchObject({ reason: "InstanceNotReady" })
    expect(backupTurn(self, undefined, [])).toMatchObject({ reason: "InstanceNotFound" })
  })
  it("lets the upgrade's own pre-upgrade backup run while it exports, ahead of waiting backups, never beside a running one", () => {
    const upgrade = {
      strategy: "inPlace" as const,
      targetHash: "h0123456789",
      toVersion: "v2",
      fromBackendImage: "a",
      fromDashboardImage: "b",
      startedAt: "2026-02-01T11:00:00Z"
    }
    // The instance is not Ready while it upgrades; the backup goes anyway.
    const exporting = { ...ready(), status: { upgrade: { ...upgrade, phase: "Exporting" as const } } }
    const own = {
      ...turn("app-pre-upgrade-h012345678-1", undefined, "2026-02-01T11:30:00Z"),
      upgradeHash: "h0123456789"
    }
    const older = turn("b1", "Pending", "2026-02-01T10:00:00Z")
    expect(backupTurn(own, exporting, [older, own])._tag).toBe("Go")
    // Other backups still wait for the upgrade.
    expect(backupTurn(older, exporting, [older, own])).toMatchObject({ reason: "UpgradeInProgress" })
    expect(backupTurn(own, exporting, [turn("b0", "Running", "2026-02-01T09:00:00Z")])).toMatchObject({
      reason: "BackupInProgress"
    })
    // Another upgrade's backup, or the same upgrade past its export, is an ordinary backup.
    expect(backupTurn({ ...own, upgradeHash: "other" }, exporting, [])).toMatchObject({ reason: "UpgradeInProgress" })
    const rolling = { ...exporting, status: { upgrade: { ...upgrade, phase: "Rolling" as const } } }
    expect(backupTurn(own, rolling, [])).toMatchObject({ reason: "UpgradeInProgress" })
  })

  it("runs one backup per instance at a time, oldest first", () => {
    expect(backupTurn(self, ready(), [turn("b1", "Running", "2026-02-01T10:00:00Z")])).toMatchObject({
      reason: "BackupInProgress"
    })
    expect(backupTurn(self, ready(), [turn("b1", "Pending", "2026-02-01T10:00:00Z")])).toMatchObject({
      reason: "Queued"
    })
    expect(backupTurn(self, ready(), [turn("b3", "Pending", "2026-02-01T11:30:00Z")])._tag).toBe("Go")
  })
  it("an upgrade does not start while a backup runs", () => {
    expect(upgradeMayStart([turn("b1", "Running", "x")])).toBe(false)
    expect(upgradeMayStart([turn("b1", "Completed", "x"), turn("b2", "Pending", "y")])).toBe(true)
  })
})

const backupOf = (target: Record<string, unknown>, status?: Record<string, unknown>): ConvexBackup =>
  Either.getOrThrow(
    decodeConvexBackup({
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexBackup",
      metadata: { name: "b1", namespace: "convex", uid: "u-b1", creationTimestamp: "2026-02-01T11:59:00Z" },
      spec: { instanceRef: { name: "app" }, target },
      ...(status === undefined ? {} : { status })
    })
  )
const observe = (backup: ConvexBackup, extra: Partial<Parameters<typeof decideBackup>[0]> = {}) =>
  decideBackup({
    backup,
    instance: ready(),
    siblings: [],
    job: undefined,
    claimExists: false,
    report: undefined,
    credentialKeys: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    now,
    operator: { image: "registry.example/convex-operator:1" },
    ...extra
  })
const jobWith = (conditions: ReadonlyArray<Record<string, string>>) => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name: "b1-backup", namespace: "convex" },
  status: { conditions }
})

describe("decideBackup", () => {
  it("to a claim: creates the retained claim and a Job that exports with file storage, then reports", () => {
    const decision = observe(backupOf({ pvc: {} }))
    expect(decision.status.phase).toBe("Running")
    const [claim, job] = decision.apply
    expect(claim).toMatchObject({ kind: "PersistentVolumeClaim", metadata: { name: "app-backups" } })
    expect(claim?.metadata.ownerReferences).toBeUndefined()
    expect(job?.kind).toBe("Job")
    const spec = job?.kind === "Job" ? job.spec.template.spec : undefined
    expect(spec?.securityContext).toMatchObject({ runAsUser: 65532, fsGroup: 65532 })
    for (const container of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
      expect(container.securityContext?.allowPrivilegeEscalation).toBe(false)
    }
    expect(spec?.initContainers?.[0]?.args).toEqual([
      "snapshot",
      "export",
      "--path",
      "/backups/b1.zip",
      "--include-file-storage",
      "--record",
      "/backups/.b1.export.json"
    ])
    expect(spec?.containers[0]?.args).toEqual([
      "backup",
      "store",
      "--file",
      "/backups/b1.zip",
      "--location",
      "pvc://app-backups/b1.zip",
      "--expire-export",
      "/backups/.b1.export.json"
    ])
    // The store step expires the backend's copy of the export: it reaches the backend with the admin key.
    expect(spec?.containers[0]?.env).toEqual([
      { name: "CONVEX_SELF_HOSTED_URL", value: "http://app-backend.convex.svc:3210" },
      {
        name: "CONVEX_SELF_HOSTED_ADMIN_KEY",
        valueFrom: { secretKeyRef: { name: "app-convex-secrets", key: "admin-key" } }
      }
    ])
    expect(spec?.volumes).toEqual([{ name: "backups", persistentVolumeClaim: { claimName: "app-backups" } }])
    expect(job?.metadata.ownerReferences?.[0]).toMatchObject({ kind: "ConvexBackup", name: "b1", controller: true })
    expect(job?.metadata.labels?.["app.kubernetes.io/instance"]).toBeUndefined()
    expect(JSON.stringify(job)).toContain('"secretKeyRef":{"name":"app-convex-secrets","key":"admin-key"}')
    expect(observe(backupOf({ pvc: {} }), { claimExists: true }).apply.map((o) => o.kind)).toEqual(["Job"])
  })

  it("to S3: exports to a scratch volume and uploads with the credentials from the Secret", () => {
    const decision = observe(
      backupOf({
        s3: {
          bucket: "backups",
          prefix: "convex",
          endpoint: "http://s3.local:8333",
          forcePathStyle: true,
          secretRef: { name: "s3" }
        }
      })
    )
    const job = decision.apply[0]
    const spec = job?.kind === "Job" ? job.spec.template.spec : undefined
    expect(spec?.volumes).toEqual([{ name: "backups", emptyDir: {} }])
    expect(spec?.containers[0]?.args).toEqual([
      "backup",
      "store",
      "--file",
      "/backups/b1.zip",
      "--location",
      "s3://backups/convex/convex/app/b1.zip",
      "--expire-export",
      "/backups/.b1.export.json",
      "--s3-bucket",
      "backups",
      "--s3-key",
      "convex/convex/app/b1.zip",
      "--s3-region",
      "us-east-1",
      "--s3-endpoint",
      "http://s3.local:8333",
      "--s3-force-path-style"
    ])
    expect(spec?.containers[0]?.env).toContainEqual({
      name: "AWS_SECRET_ACCESS_KEY",
      valueFrom: { secretKeyRef: { name: "s3", key: "AWS_SECRET_ACCESS_KEY" } }
    })
  })

  it("waits (Pending, no Job) while the interlock says so", () => {
    const decision = observe(backupOf({ pvc: {} }), { siblings: [turn("b0", "Running", "2026-02-01T10:00:00Z")] })
    expect(decision.apply).toEqual([])
    expect(decision.status).toMatchObject({ phase: "Pending", message: "backup b0 of the instance is running" })
  })

  it("Completed from a complete Job, with the reported size and location; final afterwards", () => {
    const running = backupOf({ pvc: {} }, { phase: "Running", startedAt: "2026-02-01T11:59:10Z", job: "b1-backup" })
    const report = parseStoreReport('{"sizeBytes":13002342,"location":"pvc://app-backups/b1.zip"}\n')
    const decision = observe(running, { job: jobWith([{ type: "Complete", status: "True" }]), report })
    expect(decision.status).toMatchObject({
      phase: "Completed",
      size: "12.4Mi",
      sizeBytes: 13002342,
      location: "pvc://app-backups/b1.zip",
      finishedAt: "2026-02-01T12:00:00Z"
    })
    const again = observe({ ...running, status: decision.status }, { job: undefined })
    expect(again.statusChanged).toBe(false)
    expect(again.apply).toEqual([])
    expect(decision.status.message).toBeUndefined()
    expect(decision.events.map((event) => event.reason)).toEqual(["BackupCompleted"])
  })

  it("Completed with a warning when the store step could not expire the backend's copy of the export", () => {
    const running = backupOf({ pvc: {} }, { phase: "Running", startedAt: "2026-02-01T11:59:10Z", job: "b1-backup" })
    const warning = "the backend's copy of the export (snapshot k57exp1) was not expired: HTTP 500: Snapshot not found"
    const report = parseStoreReport(JSON.stringify({ sizeBytes: 812, location: "pvc://app-backups/b1.zip", warning }))
    const decision = observe(running, { job: jobWith([{ type: "Complete", status: "True" }]), report })
    expect(decision.status).toMatchObject({ phase: "Completed", sizeBytes: 812, message: warning })
    expect(decision.status.conditions?.[0]?.message).toBe(
      `the snapshot (with file storage) is at pvc://app-backups/b1.zip; ${warning}`
    )
    expect(decision.events.find((event) => event.type === "Warning")).toMatchObject({
      on: "backup",
      reason: "ExportNotExpired"
    })
  })

  it("Failed from a failed Job, naming the reason, with a Warning on the instance", () => {
    const running = backupOf({ pvc: {} }, { phase: "Running", startedAt: "2026-02-01T11:59:10Z", job: "b1-backup" })
    const failed = jobWith([
      {
        type: "Failed",
        status: "True",
        reason: "BackoffLimitExceeded",
        message: "Job has reached the specified backoff limit"
      }
    ])
    const decision = observe(running, { job: failed })
    expect(decision.status.phase).toBe("Failed")
    expect(decision.status.message).toContain("BackoffLimitExceeded: Job has reached the specified backoff limit")
    expect(decision.status.message).toContain("kubectl logs job/b1-backup")
    expect(decision.events.find((event) => event.on === "instance")).toMatchObject({
      type: "Warning",
      reason: "BackupFailed"
    })
  })

  it("Failed from a failed Job carries what the failed container said (the newest pod's)", () => {
    const running = backupOf({ pvc: {} }, { phase: "Running", startedAt: "2026-02-01T11:59:10Z", job: "b1-backup" })
    const failed = jobWith([{ type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "limit" }])
    const pod = (created: string, statuses: Record<string, unknown>): KubeObject =>
      ({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `b1-backup-${created}`, creationTimestamp: created },
        status: statuses
      }) as KubeObject
    const exited = (name: string, exitCode: number, message?: string) => ({
      name,
      state: { terminated: { exitCode, reason: exitCode === 0 ? "Completed" : "Error", message } }
    })
    const pods = [
      pod("2026-02-01T11:59:20Z", {
        initContainerStatuses: [exited("export", 0)],
        containerStatuses: [exited("store", 1, "uploading to s3://b/k.zip: InvalidAccessKeyId: an older try")]
      }),
      pod("2026-02-01T11:59:40Z", {
        initContainerStatuses: [exited("export", 0)],
        containerStatuses: [
          exited("store", 1, "uploading to s3://b/k.zip:\n  SignatureDoesNotMatch: The request signature we calculated")
        ]
      })
    ]
    const detail = jobFailureDetail(pods)
    expect(detail).toBe("store: uploading to s3://b/k.zip: SignatureDoesNotMatch: The request signature we calculated")
    const decision = observe(running, { job: failed, failureDetail: detail })
    expect(decision.status.message).toBe(
      `backup b1 failed: BackoffLimitExceeded: limit; ${detail}; see kubectl logs job/b1-backup -n convex --all-containers`
    )
    expect(decision.events.map((event) => `${event.on}/${event.type}/${event.message}`)).toContain(
      `instance/Warning/${decision.status.message}`
    )
    // A container that failed without a message is named with its exit code; a long message keeps its end.
    expect(jobFailureDetail([pod("t", { initContainerStatuses: [exited("export", 2)] })])).toBe(
      "export exited 2 (Error)"
    )
    const long = jobFailureDetail([
      pod("t", { containerStatuses: [exited("store", 1, `${"x".repeat(1000)} the end`)] })
    ])
    expect(long?.length).toBe(400)
    expect(long).toMatch(/^…x+ the end$/)
    expect(jobFailureDetail([pod("t", { containerStatuses: [exited("store", 0, "{}")] })])).toBeUndefined()
  })

  describe("an S3 target whose credentials are not there fails at once, without a Job, naming the Secret and key", () => {
    const s3 = (secretRef: Record<string, string>) =>
      backupOf({ s3: { bucket: "backups", endpoint: "http://s3.local:8333", forcePathStyle: true, secretRef } })
    it("a missing Secret", () => {
      const decision = observe(s3({ name: "s3" }), { credentialKeys: undefined })
      expect(decision.apply).toEqual([])
      expect(decision.status).toMatchObject({
        phase: "Failed",
        message:
          'backup b1 failed: spec.target.s3.secretRef: Secret "s3" does not exist in namespace convex; create it with the keys "AWS_ACCESS_KEY_ID" and "AWS_SECRET_ACCESS_KEY", then create a new ConvexBackup'
      })
      expect(decision.status.job).toBeUndefined()
      expect(decision.status.conditions?.[0]).toMatchObject({
        type: "Completed",
        status: "False",
        reason: "BackupFailed"
      })
      expect(decision.events.map((event) => `${event.on}/${event.type}/${event.reason}`)).toEqual([
        "backup/Warning/BackupFailed",
        "instance/Warning/BackupFailed"
      ])
      // Final: the next decision changes nothing and creates nothing, even once the Secret exists.
      const again = observe({ ...s3({ name: "s3" }), status: decision.status })
      expect(again).toMatchObject({ apply: [], statusChanged: false, events: [] })
    })
    it("a missing or empty key, named with the field that chooses it", () => {
      const decision = observe(s3({ name: "creds", secretAccessKeyKey: "secret" }), {
        credentialKeys: ["AWS_ACCESS_KEY_ID"]
      })
      expect(decision.apply).toEqual([])
      expect(decision.status.message).toBe(
        'backup b1 failed: spec.target.s3.secretRef.secretAccessKeyKey: Secret "creds" has no key "secret" (or its value is empty); add it to the Secret, then create a new ConvexBackup'
      )
      expect(observe(s3({ name: "creds" }), { credentialKeys: [] }).status.message).toContain(
        'spec.target.s3.secretRef.accessKeyIdKey: Secret "creds" has no key "AWS_ACCESS_KEY_ID" (or its value is empty); spec.target.s3.secretRef.secretAccessKeyKey: Secret "creds" has no key "AWS_SECRET_ACCESS_KEY"'
      )
    })
    it("checked before the interlock (a waiting backup fails at once), never for a claim target", () => {
      const waiting = { siblings: [turn("b0", "Running", "2026-02-01T10:00:00Z")], credentialKeys: undefined }
      expect(observe(s3({ name: "s3" }), waiting).status.phase).toBe("Failed")
      expect(observe(backupOf({ pvc: {} }), waiting).status.phase).toBe("Pending")
      expect(observe(backupOf({ pvc: {} }), { credentialKeys: undefined }).status.phase).toBe("Running")
    })
    it("with both keys the Job is created", () => {
      expect(observe(s3({ name: "s3" })).apply.map((object) => object.kind)).toEqual(["Job"])
    })
  })

  it("sizes and reports", () => {
    expect([formatSize(812), formatSize(12_700), formatSize(3 * 1024 ** 3)]).toEqual(["812B", "12.4Ki", "3.0Gi"])
    expect(parseStoreReport("Error: upload failed")).toBeUndefined()
  })
})

describe("deleting a backup", () => {
  const deleting = (policy: "Retain" | "Delete", location: string | undefined) => {
    const backup = backupOf(
      { s3: { bucket: "backups", endpoint: "http://s3:8333", secretRef: { name: "s3" } } },
      location === undefined ? { phase: "Failed" } : { phase: "Completed", location }
    )
    return {
      ...backup,
      spec: { ...backup.spec, deletionPolicy: policy },
      metadata: { ...backup.metadata, deletionTimestamp: "2026-02-01T12:00:00Z", finalizers: [backupDataFinalizer] }
    }
  }
  const operator = { image: "registry.example/convex-operator:1" }
  it("with Delete, removes the ZIP through a Job before releasing the finalizer", () => {
    const backup = deleting("Delete", "s3://backups/convex/app/b1.zip")
    const start = decideBackupDeletion({ backup, removalJob: undefined, operator })
    expect(start.release).toBe(false)
    expect(start.apply[0]?.metadata.name).toBe("b1-remove")
    expect(start.apply[0]?.spec.template.spec.containers[0]?.args?.slice(0, 4)).toEqual([
      "backup",
      "remove",
      "--s3-bucket",
      "backups"
    ])
    const done = decideBackupDeletion({ backup, removalJob: jobWith([{ type: "Complete", status: "True" }]), operator })
    expect(done).toMatchObject({ release: true, apply: [] })
    const failed = decideBackupDeletion({ backup, removalJob: jobWith([{ type: "Failed", status: "True" }]), operator })
    expect(failed.release).toBe(true)
    expect(failed.events.map((event) => `${event.on}/${event.reason}`)).toContain("instance/BackupDataNotDeleted")
  })
  it("with Retain, or without a ZIP, releases at once", () => {
    expect(
      decideBackupDeletion({ backup: deleting("Retain", "s3://b/k.zip"), removalJob: undefined, operator })
    ).toMatchObject({ release: true, apply: [] })
    expect(
      decideBackupDeletion({ backup: deleting("Delete", undefined), removalJob: undefined, operator })
    ).toMatchObject({ release: true, apply: [] })
  })
})
