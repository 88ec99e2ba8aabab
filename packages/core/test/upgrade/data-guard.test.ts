/**
 * The data guard (`packages/core/src/internal/upgrade/data-guard.ts`) in whole decisions, under the TestClock: data goes on a claim by
 * default; an emptyDir holding data is reported, and the operator holds what would replace its pod (a scheduled
 * restart, an upgrade, the move onto the claim) until `backend.storage.acceptDataLoss` releases it. Every hold is
 * announced once and then costs no writes.
 */
import { type Decision, decide } from "@convex-operator/core"
import { findCondition } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option, TestClock } from "effect"
import { entropy, find, minimal, now, secret } from "../decide/support.js"
import { names, readyOnV1, retarget, runUntil, tick, v1, v2, type World } from "./saga.js"

const dataPersistent = (decision: Decision) => findCondition(decision.status.conditions, "DataPersistent")
const dataVolume = (decision: Decision) =>
  find(decision, "StatefulSet", names.backend).spec.template.spec.volumes?.find((volume) => volume.name === "data")
const backendImage = (decision: Decision) =>
  find(decision, "StatefulSet", names.backend).spec.template.spec.containers[0]?.image
const eventReasons = (world: World) => world.decision.events.map((event) => event.reason)

const emptyDir = { backend: { storage: { pvc: { enabled: false } } } }
const accepting = { backend: { storage: { pvc: { enabled: false }, acceptDataLoss: true } } }
const daily = (extra: Record<string, unknown>) => ({
  ...extra,
  maintenance: { upgradeStrategy: "inPlace", restartInterval: "24h" }
})
const postgres = { engine: "postgres", secretRef: "db", urlKey: "url" }
const s3 = { enabled: true, secretRef: "s3", bucket: "convex", region: "eu-west-1" }

/** One more decision at the same time: what a steady state does. */
const again = (world: World) => tick(world)

describe("the default data claim", () => {
  it("a SQLite instance gets a 10Gi claim of the default StorageClass, retained, mounted at /convex/data", () => {
    const decision = decide(minimal(), { objects: [], entropy }, now)
    const claim = find(decision, "PersistentVolumeClaim", names.backendPvc)
    expect(claim.spec).toEqual({ accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "10Gi" } } })
    expect(claim.metadata.ownerReferences).toBeUndefined()
    expect(dataVolume(decision)).toEqual({ name: "data", persistentVolumeClaim: { claimName: names.backendPvc } })
    expect(dataPersistent(decision)).toMatchObject({ status: "True", reason: "OnClaim" })
    expect(decision.events.map((event) => event.reason)).not.toContain("DataNotPersistent")
  })

  it("Postgres without S3 gets the claim too: Convex keeps files and modules on the data volume then", () => {
    const decision = decide(minimal({ backend: { db: postgres } }), { objects: [], entropy }, now)
    expect(find(decision, "PersistentVolumeClaim", names.backendPvc)).toBeDefined()
    const onEmptyDir = decide(
      minimal({ backend: { db: postgres, storage: { pvc: { enabled: false } } } }),
      { objects: [], entropy },
      now
    )
    expect(dataPersistent(onEmptyDir)).toMatchObject({ status: "False", reason: "EmptyDir" })
    expect(dataPersistent(onEmptyDir)?.message).toContain("stored files, modules and exports")
  })

  it("Postgres with S3 may do without a claim: the emptyDir holds only scratch files", () => {
    const decision = decide(
      minimal({ backend: { db: postgres, s3, storage: { pvc: { enabled: false } } } }),
      {
        objects: [
          secret("db", { url: "postgres://convex:pw@pg.db.svc:5432" }),
          secret("s3", { AWS_ACCESS_KEY_ID: "KEYID", AWS_SECRET_ACCESS_KEY: "secret-access-key" })
        ],
        entropy
      },
      now
    )
    expect(decision.desired.some((object) => object.kind === "PersistentVolumeClaim")).toBe(false)
    expect(dataVolume(decision)).toEqual({ name: "data", emptyDir: {} })
    expect(dataPersistent(decision)).toMatchObject({ status: "True", reason: "ScratchOnly" })
    expect(decision.events.map((event) => event.reason)).not.toContain("DataNotPersistent")
  })
})

describe("an explicit emptyDir", () => {
  it("is rendered, reported not persistent, and warned about once", () => {
    const first = decide(minimal(emptyDir), { objects: [], entropy }, now)
    expect(dataVolume(first)).toEqual({ name: "data", emptyDir: {} })
    expect(first.desired.some((object) => object.kind === "PersistentVolumeClaim")).toBe(false)
    expect(dataPersistent(first)).toMatchObject({ status: "False", reason: "EmptyDir" })
    expect(dataPersistent(first)?.message).toContain("spec.backend.storage.acceptDataLoss")
    expect(first.events.filter((event) => event.reason === "DataNotPersistent")).toEqual([
      expect.objectContaining({ type: "Warning" })
    ])
    const second = decide({ ...minimal(emptyDir), status: first.status }, { objects: first.desired, entropy }, now)
    expect(second.events.filter((event) => event.reason === "DataNotPersistent")).toEqual([])
  })

  it("accepted in the first spec: reported, but no event (the user chose it in the same spec)", () => {
    const first = decide(minimal(accepting), { objects: [], entropy }, now)
    expect(dataPersistent(first)).toMatchObject({ status: "False", reason: "DataLossAccepted" })
    expect(first.events.map((event) => event.reason)).not.toContain("DataLossAccepted")
  })

  it.effect("holds the scheduled restart, says why once, then writes nothing; acceptDataLoss releases it", () =>
    Effect.gen(function* () {
      let world = yield* readyOnV1("inPlace", daily(emptyDir))
      yield* TestClock.adjust(Duration.hours(25))
      world = yield* tick(world)
      expect(eventReasons(world)).toEqual(["ReplacementHeld"])
      expect(world.decision.events[0]).toMatchObject({ type: "Warning", action: "Hold" })
      expect(world.decision.events[0]?.message).toContain("scheduled restart (maintenance.restartInterval 24h)")
      expect(world.decision.events[0]?.message).toContain("spec.backend.storage.acceptDataLoss: true")
      expect(world.decision.status.lastRestartTime).toBeUndefined()
      expect(
        find(world.decision, "StatefulSet", names.backend).spec.template.metadata.annotations?.[
          "convex.icod.de/restarted-at"
        ]
      ).toBeUndefined()
      expect(dataPersistent(world.decision)).toMatchObject({ status: "False", reason: "ReplacementHeld" })

      // A day later: still held, and a steady state (no apply, no status change, no event, no wake-up).
      yield* TestClock.adjust(Duration.hours(24))
      world = yield* again(world)
      expect(world.decision.apply).toEqual([])
      expect(world.decision.statusChanged).toBe(false)
      expect(world.decision.events).toEqual([])
      expect(world.decision.requeueAfter).toEqual(Option.none())

      // Accepting the loss restarts at once (the restart is long overdue) and says so.
      world = yield* tick(retarget(world, v1, "inPlace", daily(accepting)))
      expect(eventReasons(world)).toEqual(expect.arrayContaining(["RestartTriggered", "DataLossAccepted"]))
      expect(world.decision.status.lastRestartTime).toBe("2025-06-03T13:00:00Z")
      expect(dataPersistent(world.decision)).toMatchObject({ status: "False", reason: "DataLossAccepted" })
    })
  )

  it.effect("holds an upgrade before it starts: the running images stay, UpgradeInProgress points at the hold", () =>
    Effect.gen(function* () {
      let world = yield* readyOnV1("inPlace", emptyDir)
      world = yield* tick(retarget(world, v2, "inPlace", emptyDir))
      expect(world.decision.status.upgrade).toBeUndefined()
      expect(world.decision.status.currentVersion).toBe(v1)
      expect(backendImage(world.decision)).toBe(`ghcr.io/get-convex/convex-backend:${v1}`)
      expect(find(world.decision, "Deployment", names.dashboard).spec.template.spec.containers[0]?.image).toBe(
        `ghcr.io/get-convex/convex-dashboard:${v1}`
      )
      expect(world.decision.desired.some((object) => object.kind === "ConvexBackup")).toBe(false)
      expect(findCondition(world.decision.status.conditions, "UpgradeInProgress")?.message).toContain(
        `the upgrade to ${v2} is held (see DataPersistent)`
      )
      expect(dataPersistent(world.decision)?.message).toContain(`the upgrade to version ${v2}`)
      expect(eventReasons(world)).toEqual(["ReplacementHeld"])

      world = yield* again(world)
      expect(world.decision.apply).toEqual([])
      expect(world.decision.statusChanged).toBe(false)
      expect(world.decision.events).toEqual([])

      world = yield* tick(
        retarget(world, v2, "inPlace", { backend: { storage: { pvc: { enabled: false }, acceptDataLoss: true } } })
      )
      expect(world.decision.status.upgrade?.phase).toBe("Exporting")
    })
  )

  it.effect("a backend already on an emptyDir is not moved onto the default claim until the loss is accepted", () =>
    Effect.gen(function* () {
      // An instance created when the claim was off by default: its stored spec now decodes with the claim on.
      let world = yield* readyOnV1("inPlace", emptyDir)
      world = yield* tick(retarget(world, v1, "inPlace"))
      expect(dataVolume(world.decision)).toEqual({ name: "data", emptyDir: {} })
      expect(find(world.decision, "PersistentVolumeClaim", names.backendPvc)).toBeDefined()
      expect(dataPersistent(world.decision)).toMatchObject({ status: "False", reason: "ReplacementHeld" })
      expect(dataPersistent(world.decision)?.message).toContain(
        `the move onto PersistentVolumeClaim ${names.backendPvc}`
      )
      expect(eventReasons(world)).toEqual(["ReplacementHeld"])
      world = yield* again(world)
      expect(world.decision.apply).toEqual([])
      expect(world.decision.events).toEqual([])

      world = yield* tick(retarget(world, v1, "inPlace", { backend: { storage: { acceptDataLoss: true } } }))
      expect(dataVolume(world.decision)).toEqual({
        name: "data",
        persistentVolumeClaim: { claimName: names.backendPvc }
      })
      expect(dataPersistent(world.decision)).toMatchObject({ status: "True", reason: "OnClaim" })
      expect(world.decision.events).toContainEqual(expect.objectContaining({ type: "Normal", reason: "OnClaim" }))
    })
  )

  it.effect("names the claim the backend runs on after an exportImport upgrade moved it to a fresh one", () =>
    Effect.gen(function* () {
      const world = yield* readyOnV1("exportImport")
      const { world: done } = yield* runUntil(
        retarget(world, v2, "exportImport"),
        (w) => w.decision.status.upgrade === undefined && w.decision.status.currentVersion === v2
      )
      const mounted = dataVolume(done.decision)?.persistentVolumeClaim?.claimName
      expect(mounted).toMatch(new RegExp(`^${names.backendPvc}-g\\d+$`))
      expect(dataPersistent(done.decision)).toMatchObject({
        status: "True",
        reason: "OnClaim",
        message: `/convex/data is on PersistentVolumeClaim ${mounted}`
      })
    })
  )

  it.effect("a backend on a claim is restarted on schedule as before", () =>
    Effect.gen(function* () {
      let world = yield* readyOnV1("inPlace", daily({}))
      yield* TestClock.adjust(Duration.hours(24))
      world = yield* tick(world)
      expect(eventReasons(world)).toContain("RestartTriggered")
      expect(world.decision.status.lastRestartTime).toBe("2025-06-02T12:00:00Z")
      expect(dataPersistent(world.decision)).toMatchObject({ status: "True", reason: "OnClaim" })
    })
  )
})
