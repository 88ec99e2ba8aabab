/**
 * `status`'s report and its renderers, on instances in the states an operator user meets (fixtures in
 * support/status-fixtures.ts, at a fixed time). The text, table and JSON are golden files in golden/status/:
 * review their changes like code; update them with
 * `npx vitest run --project unit -u packages/operator/test/status-report.test.ts`.
 */
import { describe, expect, it } from "@effect/vitest"
import { colorWanted } from "../src/cli/status.js"
import { buildReport, dataClaimName } from "../src/status-report/build.js"
import { instanceRow, renderTable } from "../src/status-report/table.js"
import { renderText } from "../src/status-report/text.js"
import { backup, emptyDir, failing, now, ns, paused, ready, unreported, upgrading } from "./support/status-fixtures.js"

type StatusOfFixture = { status: { conditions: ReadonlyArray<unknown> } }

const states = { ready, failing, upgrading, emptyDir, paused, unreported }
const text = (inputs: typeof ready, color = false) => renderText(buildReport(inputs), { now, color })

describe("status report (golden text)", () => {
  it.each(Object.entries(states))("%s", async (state, inputs) => {
    await expect(`${text(inputs)}\n`).toMatchFileSnapshot(`./golden/status/${state}.txt`)
  })

  it("the JSON of a Ready instance", async () => {
    await expect(`${JSON.stringify(buildReport(ready), null, 2)}\n`).toMatchFileSnapshot("./golden/status/ready.json")
  })

  it("the -A table", async () => {
    const db = { ...failing.instance, metadata: { ...failing.instance.metadata, name: "db", namespace: "staging" } }
    const instances = [ready.instance, db, emptyDir.instance, unreported.instance]
    const rows = instances.map((instance) => instanceRow(instance, ready.backups))
    await expect(`${renderTable(rows, true, now)}\n`).toMatchFileSnapshot("./golden/status/all-namespaces.txt")
  })
})

describe("status report facts", () => {
  it("Ready: the newest Completed backup of this instance, the next 03:00, the next restart 7 days after the last", () => {
    const report = buildReport(ready)
    expect(report.ready).toMatchObject({ status: "True", reason: "BackendReady" })
    expect(report.conditions.map((condition) => condition.type)).toEqual(["ProxySettingsApplied"])
    expect(report.backups.lastSuccessful).toMatchObject({ name: "app-20260115030000", size: "12.6Mi" })
    expect(report.backups.latest).toBeUndefined()
    expect(report.backups.next).toEqual({ schedule: "nightly", at: "2026-01-16T03:00:00Z" })
    expect(report.restart).toEqual({
      state: "scheduled",
      at: "2026-01-20T12:00:00Z",
      interval: "168h",
      last: "2026-01-13T12:00:00Z"
    })
    expect(report.storage).toMatchObject({
      volume: "claim",
      persistent: true,
      claim: { name: "app-backend-pvc", phase: "Bound", size: "20Gi", storageClass: "fast" }
    })
    expect(report.urls).toEqual({
      api: "https://api.example.com",
      site: "https://api.example.com/http",
      dashboard: "https://dashboard.example.com"
    })
  })

  it("a backup newer than the last successful one that is not Completed is the latest", () => {
    const running = backup("app-20260115115900", "app", "2026-01-15T11:59:00Z", { phase: "Running" })
    const report = buildReport({ ...ready, backups: [...ready.backups, running] })
    expect(report.backups.latest).toMatchObject({ name: "app-20260115115900", phase: "Running" })
    expect(report.backups.lastSuccessful?.name).toBe("app-20260115030000")
  })

  it("failing: the failed conditions with reasons, and only this instance's Warning events, newest first", () => {
    const report = buildReport(failing)
    expect(report.ready).toMatchObject({ status: "False", reason: "ValidationFailed" })
    expect(report.conditions.map((condition) => `${condition.type}=${condition.status}`)).toEqual([
      "SecretsReady=False",
      "StatefulSetReady=False"
    ])
    expect(report.events.map((event) => [event.reason, event.count])).toEqual([
      ["ValidationFailed", 7],
      ["BackupFailed", 1]
    ])
    expect(report.storage.claim?.phase).toBe("Pending")
  })

  it("upgrading: exportImport's five steps, the running import Job, the claim the upgrade moves to", () => {
    const report = buildReport(upgrading)
    expect(report.upgrade?.steps).toEqual([
      { step: "Export", state: "done" },
      { step: "SaveEnv", state: "done" },
      { step: "Roll", state: "done" },
      { step: "Import", state: "running" },
      { step: "RestoreEnv", state: "to do" }
    ])
    expect(report.upgrade?.job).toEqual({ kind: "Job", name: "app-import-0a1b2c3d4e", state: "Running" })
    // From the roll on, the backend mounts the upgrade's fresh claim.
    expect(dataClaimName(upgrading.instance)).toBe("app-backend-pvc-g1")
    expect(report.version).toEqual({
      wanted: "1111111111111111111111111111111111111111",
      running: "652b828b5129e6cdbcaa3c20efa8d116d09ff3bf"
    })
    // Restarts wait for the upgrade.
    expect(report.restart.state).toBe("waiting")
    expect(report.conditions.map((condition) => condition.type)).toEqual(["UpgradeInProgress"])
  })

  it("a failed inPlace upgrade without a pre-upgrade backup: one step, failed", () => {
    const status = (upgrading.instance as unknown as { status: { upgrade: object } }).status
    const instance = {
      ...upgrading.instance,
      status: {
        ...status,
        upgrade: { ...status.upgrade, strategy: "inPlace", phase: "Failed", failedStep: "Roll", backup: undefined }
      }
    }
    const report = buildReport({ ...upgrading, instance, upgradeWork: undefined })
    expect(report.upgrade?.steps).toEqual([{ step: "Roll", state: "failed" }])
    expect(report.upgrade?.job).toBeUndefined()
  })

  it("emptyDir: not persistent, with the guard's reason; no claim; dashboard disabled", () => {
    const report = buildReport(emptyDir)
    expect(report.storage).toMatchObject({ volume: "emptyDir", persistent: false, reason: "ReplacementHeld" })
    expect(report.storage.claim).toBeUndefined()
    expect(report.urls.dashboardNote).toBe("disabled (spec.dashboard.enabled is false)")
    expect(report.conditions.map((condition) => condition.type)).toEqual(["DataPersistent"])
    // Ready since 2026-01-01 10:00, restarted never: 168h later is past, so the restart is due (and held).
    expect(report.restart.state).toBe("due")
  })

  it("paused: the phase, the condition naming the annotation, restarts held, a suspended schedule", () => {
    const report = buildReport(paused)
    expect(report.paused).toBe(true)
    expect(report.phase).toBe("Paused")
    expect(report.conditions.map((condition) => condition.type)).toEqual(["ReconciliationPaused"])
    expect(report.restart.state).toBe("paused")
    expect(report.backups.next).toBeUndefined()
    expect(report.backups.schedules).toEqual([{ name: "nightly", schedule: "0 3 * * *", suspended: true }])
  })

  it("paused before the first report: Ready Unknown because of the pause, not a missing operator", () => {
    const instance = {
      ...paused.instance,
      status: {
        phase: "Paused",
        conditions: [(paused.instance as unknown as StatusOfFixture).status.conditions.at(-1)]
      }
    }
    const report = buildReport({ ...paused, instance })
    expect(report.ready).toMatchObject({ status: "Unknown", reason: "Paused" })
    expect(report.conditions.map((condition) => condition.type)).toEqual(["ReconciliationPaused"])
  })

  it("never reported: Ready Unknown, the rendered in-cluster URLs, the read that failed", () => {
    const report = buildReport(unreported)
    expect(report.ready).toMatchObject({ status: "Unknown", reason: "NotReported" })
    expect(report.urls.api).toBe(`http://fresh-backend.${ns}.svc:3210`)
    expect(report.problems).toEqual(["cannot list events: Forbidden: events.events.k8s.io is forbidden"])
    expect(report.storage.claim).toEqual({ name: "fresh-backend-pvc", phase: "Missing" })
  })

  it("colour only when asked: ANSI codes in a terminal, none otherwise", () => {
    expect(text(failing, true)).toContain("\u001b[31mFalse\u001b[0m")
    expect(text(failing, false)).not.toContain("\u001b[")
  })

  it("colour is wanted on a terminal unless NO_COLOR is set to something", () => {
    expect(colorWanted(true, {})).toBe(true)
    expect(colorWanted(true, { NO_COLOR: "" })).toBe(true)
    expect(colorWanted(true, { NO_COLOR: "1" })).toBe(false)
    expect(colorWanted(false, {})).toBe(false)
    expect(colorWanted(undefined, {})).toBe(false)
  })
})
