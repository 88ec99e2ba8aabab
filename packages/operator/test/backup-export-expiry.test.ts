/**
 * Backups do not pile up inside the backend: the steps of the backup Job core renders (`snapshot export --record`,
 * then `backup store --expire-export`), run with the real `convex` CLI against the loopback stand-in, expire the
 * backend's own copy of each export once the ZIP is stored; a copy that cannot be expired is a warning in the
 * store report, never a failed backup.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { backupMountPath, expiredSnapshotAgeDays, type Job, renderBackupJob } from "@convex-operator/core/internal"
import { NodeContext } from "@effect/platform-node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { cli } from "convex-operator"
import { ConfigProvider, Effect } from "effect"
import { defaultExportRetentionNs, type StandIn, startStandIn } from "./support/convex-stand-in.js"

const adminKey = "stand-in|01aa55"
let backend: StandIn

beforeAll(async () => {
  backend = await startStandIn(adminKey)
})
afterAll(async () => {
  await backend.close()
})

const owner = { apiVersion: "convex.icod.de/v1alpha1", kind: "ConvexBackup", name: "b", uid: "u-1", controller: true }

/** The backup Job of `backup` to a claim, as the operator renders it. */
const jobOf = (backup: string): Job =>
  renderBackupJob(
    {
      namespace: "apps",
      instance: "app",
      internalApi: "http://app-backend.apps.svc:3210",
      secrets: "app-convex-secrets",
      image: "convex-operator:test"
    },
    backup,
    { pvc: {} },
    owner
  )

/** Runs one rendered container's arguments, with the claim at `dir` instead of /backups, and the Job's env. */
const runStep = (args: ReadonlyArray<string>, dir: string) =>
  cli(["node", "convex-operator", ...args.map((arg) => arg.replace(backupMountPath, dir))]).pipe(
    Effect.provide(NodeContext.layer),
    Effect.withConfigProvider(
      ConfigProvider.fromMap(
        new Map([
          ["CONVEX_SELF_HOSTED_URL", backend.url],
          ["CONVEX_SELF_HOSTED_ADMIN_KEY", adminKey]
        ])
      )
    )
  )

/** Runs the backup Job of `backup` (init container, then main container) and returns its store report. */
const runBackupJob = (backup: string, dir: string) =>
  Effect.gen(function* () {
    const spec = jobOf(backup).spec.template.spec
    const exportArgs = spec.initContainers?.[0]?.args ?? []
    const storeArgs = spec.containers[0]?.args ?? []
    const terminationLog = join(dir, `${backup}.termination-log`)
    yield* runStep(exportArgs, dir)
    const afterExport = backend.exports.at(-1)
    yield* runStep([...storeArgs, "--termination-log", terminationLog], dir)
    return {
      report: JSON.parse(readFileSync(terminationLog, "utf8")) as Record<string, unknown>,
      exported: afterExport
    }
  })

const nowNs = () => BigInt(Date.now()) * 1_000_000n

describe("backups expire the backend's copy of their export", { timeout: 120_000 }, () => {
  it.live("after ten backups the backend holds no unexpired export, and its cleanup leaves at most one", () =>
    Effect.gen(function* () {
      backend.exports.length = 0
      backend.exportZip = Buffer.from("PK-a-backup")
      const dir = mkdtempSync(join(tmpdir(), "convex-operator-backups-"))
      for (let i = 0; i < 10; i++) {
        const name = `app-2026020112${String(i).padStart(2, "0")}00`
        const { report, exported } = yield* runBackupJob(name, dir)
        expect(report).toEqual({ sizeBytes: 11, location: `pvc://app-backups/${name}.zip` })
        expect(readFileSync(join(dir, `${name}.zip`), "utf8")).toBe("PK-a-backup")
        // The record of the backend-side snapshot is gone with the Job's work done.
        expect(existsSync(join(dir, `.${name}.export.json`))).toBe(false)
        // This backup's own export, and no other, was expired (14 days ahead before, now after).
        expect(exported !== undefined && exported.expirationTs <= nowNs()).toBe(true)
        expect(exported !== undefined && exported.expirationTs < exported.startTs + defaultExportRetentionNs).toBe(true)
      }
      expect(backend.exports).toHaveLength(10)
      const set = backend.requests.filter((r) => r.path.startsWith("/api/export/set_expiration/"))
      expect(set.map((r) => r.path)).toEqual(backend.exports.map((e) => `/api/export/set_expiration/${e.id}`))
      expect(set.every((r) => r.authorized)).toBe(true)
      const unexpired = backend.exports.filter((e) => e.expirationTs > nowNs())
      expect(unexpired.length).toBeLessThanOrEqual(1)
      // The backend's cleanup with the MAX_EXPIRED_SNAPSHOT_AGE_DAYS the operator sets purges the expired copies.
      backend.purgeExpired(Number(expiredSnapshotAgeDays), nowNs() + 1n)
      expect(backend.exports.length).toBeLessThanOrEqual(1)
    })
  )

  it.live("a copy that cannot be expired is a warning in the report; the stored backup stands", () =>
    Effect.gen(function* () {
      backend.exports.length = 0
      backend.exportZip = Buffer.from("PK-kept")
      const dir = mkdtempSync(join(tmpdir(), "convex-operator-backups-"))
      const spec = jobOf("app-warn").spec.template.spec
      yield* runStep(spec.initContainers?.[0]?.args ?? [], dir)
      const id = backend.exports.at(-1)?.id
      // The backend loses the export between the two steps (say, someone deleted it): set_expiration answers 500.
      backend.exports.length = 0
      const log = join(dir, "warn.termination-log")
      yield* runStep([...(spec.containers[0]?.args ?? []), "--termination-log", log], dir)
      expect(JSON.parse(readFileSync(log, "utf8"))).toEqual({
        sizeBytes: 7,
        location: "pvc://app-backups/app-warn.zip",
        warning: `the backend's copy of the export (snapshot ${id}) was not expired: POST /api/export/set_expiration/${id}: HTTP 500: {"code":"InternalServerError","message":"Snapshot not found"}`
      })
      expect(readFileSync(join(dir, "app-warn.zip"), "utf8")).toBe("PK-kept")
      expect(existsSync(join(dir, ".app-warn.export.json"))).toBe(false)
      expect(readFileSync(log, "utf8")).not.toContain(adminKey)
    })
  )
})
