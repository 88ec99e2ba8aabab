/**
 * The upgrade saga when something goes wrong, under the TestClock: a failed attempt and its backoff, failure at
 * every step, the retry annotation, rolling back, the roll's deadline, and a new version mid-upgrade.
 */
import { findCondition, type JobStep, retryAnnotation, retryBackoff, rollTimeout } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option, TestClock } from "effect"
import { find } from "../decide/support.js"
import {
  annotate,
  backupsIn,
  backupsOf,
  type ClusterBehaviour,
  condition,
  has,
  jobsOf,
  names,
  readyOnV1,
  retarget,
  runUntil,
  type Strategy,
  tick,
  v1,
  v2,
  v3,
  type World,
  where
} from "./saga.js"

const backendImage = (world: World) =>
  find(world.decision, "StatefulSet", names.backend).spec.template.spec.containers[0]?.image
const requeueSeconds = (world: World) => Option.map(world.decision.requeueAfter, Duration.toSeconds)
const failing =
  (failed: JobStep, until = Number.POSITIVE_INFINITY): NonNullable<ClusterBehaviour["job"]> =>
  (step, attempt) =>
    step === failed && attempt < until ? "Failed" : "Succeeded"
const failedAt = (world: World) => world.decision.status.upgrade?.phase === "Failed"
const readyOn = (version: string) => (world: World) =>
  world.decision.status.phase === "Ready" && world.decision.status.currentVersion === version

/** Runs an upgrade to v2 until `step` has just started (its first Job rendered). */
const upgradeTo = (strategy: Strategy, behaviour: ClusterBehaviour, until: (world: World) => boolean) =>
  Effect.gen(function* () {
    const ready = yield* readyOnV1(strategy)
    return yield* runUntil(retarget(ready, v2, strategy), until, behaviour)
  })

/** Ticks, moving the TestClock to each wake-up the decision asks for, until `done` (at most `limit` ticks). */
const runWithClock = (world: World, done: (world: World) => boolean, behaviour: ClusterBehaviour, limit = 30) =>
  Effect.gen(function* () {
    let current = world
    const seen: Array<string> = []
    for (let i = 0; i < limit; i++) {
      current = yield* tick(current, behaviour)
      const step = where(current.decision)
      if (seen.at(-1) !== step) seen.push(step)
      if (done(current)) return { world: current, seen }
      if (Option.isSome(current.decision.requeueAfter) && current.decision.apply.length === 0) {
        yield* TestClock.adjust(current.decision.requeueAfter.value)
      }
    }
    throw new Error(`not done; seen ${seen.join(" → ")}`)
  })

describe("upgrade saga: failed attempts", () => {
  it.effect("a failed pre-upgrade backup is retried after 10 s, then 20 s; the third failure stops the upgrade", () =>
    Effect.gen(function* () {
      const behaviour = { job: failing("Export") }
      const { world: first } = yield* upgradeTo("inPlace", behaviour, (world) => backupsOf(world.decision).length > 0)
      const hash = first.decision.status.upgrade?.targetHash ?? ""
      // The first attempt's backup fails: nothing new while waiting (the failed backup is kept), wake up in 10 s.
      const waiting = yield* tick(first, behaviour)
      expect(waiting.decision.status.upgrade).toMatchObject({
        phase: "Exporting",
        attempt: 2,
        retryAt: "2025-06-01T12:00:10Z"
      })
      expect(backupsOf(waiting.decision)).toEqual([])
      expect(waiting.decision.delete).toEqual([])
      expect(backupsIn(waiting)).toEqual([`${names.preUpgradeBackup(hash, 1)}/Failed`])
      expect(requeueSeconds(waiting)).toEqual(Option.some(10))
      expect(condition(waiting.decision, "UpgradeInProgress")).toBe("True/AttemptFailed")
      expect(findCondition(waiting.decision.status.conditions, "UpgradeInProgress")?.message).toBe(
        `upgrade from ${v1} to ${v2}: the pre-upgrade backup failed (attempt 1 of 3); attempt 2 starts at 2025-06-01T12:00:10Z`
      )
      expect(waiting.decision.events).toContainEqual(
        expect.objectContaining({ type: "Warning", reason: "AttemptFailed", action: "Upgrade" })
      )
      expect(backendImage(waiting)).toContain(v1)

      // Not before the backoff has passed.
      yield* TestClock.adjust("9 seconds")
      const early = yield* tick(waiting, behaviour)
      expect(backupsOf(early.decision)).toEqual([])
      expect(requeueSeconds(early)).toEqual(Option.some(1))

      yield* TestClock.adjust("1 second")
      const second = yield* tick(early, behaviour)
      // A new ConvexBackup per attempt (a failed one's status is final).
      expect(backupsOf(second.decision)).toEqual([`${names.preUpgradeBackup(hash, 2)}#2`])
      expect(second.decision.status.upgrade?.backup).toBe(names.preUpgradeBackup(hash, 2))
      expect(second.decision.status.upgrade?.retryAt).toBeUndefined()
      expect(condition(second.decision, "UpgradeInProgress")).toBe("True/Exporting")

      const secondFailed = yield* tick(second, behaviour)
      expect(secondFailed.decision.status.upgrade).toMatchObject({ attempt: 3, retryAt: "2025-06-01T12:00:30Z" })
      expect(requeueSeconds(secondFailed)).toEqual(Option.some(retryBackoff(2) / 1000))

      const { world: failed, seen } = yield* runWithClock(secondFailed, failedAt, behaviour)
      expect(seen).toEqual([
        "Upgrading/AttemptFailed/Exporting#3",
        "Upgrading/Exporting/Exporting#3",
        "Error/UpgradeFailed/Failed#3"
      ])
      expect(failed.decision.status.upgrade).toMatchObject({ phase: "Failed", failedStep: "Export", attempt: 3 })
      expect(failed.decision.status.phase).toBe("Error")
      // Nothing loops: no wake-up, and every failed backup stays (with its Job's logs).
      expect(Option.isNone(failed.decision.requeueAfter)).toBe(true)
      expect(backupsOf(failed.decision)).toEqual([])
      expect(backupsIn(failed)).toEqual([1, 2, 3].map((attempt) => `${names.preUpgradeBackup(hash, attempt)}/Failed`))
      expect(condition(failed.decision, "ExportCompleted")).toBe("False/Failed")
      expect(findCondition(failed.decision.status.conditions, "ExportCompleted")?.message).toBe(
        `the pre-upgrade ConvexBackup ${names.preUpgradeBackup(hash, 3)} failed`
      )
      const steady = yield* tick(failed, behaviour)
      expect(steady.decision.apply).toEqual([])
      expect(steady.decision.statusChanged).toBe(false)
    })
  )

  it.effect("an attempt that succeeds after a failure continues the upgrade", () =>
    Effect.gen(function* () {
      const ready = yield* readyOnV1("exportImport")
      const { world, seen } = yield* runWithClock(retarget(ready, v2, "exportImport"), readyOn(v2), {
        job: failing("Import", 2)
      })
      expect(seen).toContain("Upgrading/AttemptFailed/Importing#2")
      expect(seen).toContain("Upgrading/Importing/Importing#2")
      expect(world.decision.status.upgrade).toBeUndefined()
      expect(condition(world.decision, "ImportCompleted")).toBe("True/Succeeded")
    })
  )
})

describe("upgrade saga: failure at each step", () => {
  const cases: ReadonlyArray<{
    readonly step: JobStep
    readonly strategy: Strategy
    readonly image: string
    readonly trafficStopped: boolean
    readonly exportCondition: string
    readonly importCondition: string
  }> = [
    {
      step: "Export",
      strategy: "inPlace",
      image: v1,
      trafficStopped: false,
      exportCondition: "False/Failed",
      importCondition: "False/NotRequired"
    },
    {
      step: "Export",
      strategy: "exportImport",
      image: v1,
      trafficStopped: false,
      exportCondition: "False/Failed",
      importCondition: "False/NotStarted"
    },
    {
      step: "SaveEnv",
      strategy: "exportImport",
      image: v1,
      trafficStopped: false,
      exportCondition: "True/Succeeded",
      importCondition: "False/NotStarted"
    },
    {
      step: "Import",
      strategy: "exportImport",
      image: v2,
      trafficStopped: true,
      exportCondition: "True/Succeeded",
      importCondition: "False/Failed"
    },
    {
      step: "RestoreEnv",
      strategy: "exportImport",
      image: v2,
      trafficStopped: true,
      exportCondition: "True/Succeeded",
      importCondition: "True/Succeeded"
    }
  ]
  for (const c of cases) {
    it.effect(`${c.strategy}: ${c.step} fails three times → Error naming the step; backups kept`, () =>
      Effect.gen(function* () {
        const ready = yield* readyOnV1(c.strategy)
        const { world } = yield* runWithClock(retarget(ready, v2, c.strategy), failedAt, { job: failing(c.step) })
        const upgrade = world.decision.status.upgrade
        expect(upgrade).toMatchObject({ phase: "Failed", failedStep: c.step, attempt: 3, maxAttempt: 3 })
        expect(world.decision.status.phase).toBe("Error")
        expect(condition(world.decision, "UpgradeInProgress")).toBe("False/UpgradeFailed")
        const message = findCondition(world.decision.status.conditions, "UpgradeInProgress")?.message ?? ""
        expect(message).toContain(`${c.step === "Export" ? "the pre-upgrade backup" : "Job"} failed (attempt 3 of 3)`)
        expect(message).toContain(`annotate ${retryAnnotation}=<a new value> to retry`)
        expect(message).toContain(`set spec.version back to ${v1} to roll back`)
        expect(condition(world.decision, "Ready")).toBe("False/UpgradeFailed")
        expect(condition(world.decision, "ExportCompleted")).toBe(c.exportCondition)
        expect(condition(world.decision, "ImportCompleted")).toBe(c.importCondition)
        expect(backendImage(world)).toContain(c.image)
        expect(has(world.decision, "HTTPRoute")).toBe(!c.trafficStopped)
        expect(backupsIn(world).length).toBeGreaterThan(0)
        expect(world.decision.delete.map((ref) => ref.kind)).not.toContain("ConvexBackup")
        if (c.strategy === "exportImport") {
          expect(upgrade?.savedEnvSecret).toBe(names.savedEnv(upgrade?.targetHash ?? ""))
          expect(has(world.decision, "Role", names.envAccess)).toBe(true)
        }
      })
    )
  }

  it.effect("the import fails, saying why, when its pre-upgrade ConvexBackup is gone", () =>
    Effect.gen(function* () {
      const notReady: ClusterBehaviour = { backendReady: (image) => !image.endsWith(v2) }
      const { world: rolling } = yield* upgradeTo(
        "exportImport",
        notReady,
        (world) => world.decision.status.upgrade?.phase === "Rolling"
      )
      const backup = rolling.decision.status.upgrade?.backup
      // Someone deletes the backup while the backend rolls.
      const gone = { ...rolling, objects: rolling.objects.filter((object) => object.kind !== "ConvexBackup") }
      const { world: failed, seen } = yield* runWithClock(gone, failedAt, {})
      expect(seen).toContain("Upgrading/AttemptFailed/Importing#2")
      expect(failed.decision.status.upgrade).toMatchObject({ phase: "Failed", failedStep: "Import", attempt: 3 })
      expect(jobsOf(failed.decision)).toEqual([])
      expect(findCondition(failed.decision.status.conditions, "UpgradeInProgress")?.message).toContain(
        `the import cannot run: ConvexBackup ${backup} not found in this namespace (attempt 3 of 3)`
      )
    })
  )

  it.effect("a backend not ready on the new image within 30 minutes fails the roll", () =>
    Effect.gen(function* () {
      const behaviour: ClusterBehaviour = { backendReady: (image) => !image.endsWith(v2) }
      const { world: rolling } = yield* upgradeTo(
        "inPlace",
        behaviour,
        (world) => world.decision.status.upgrade?.phase === "Rolling"
      )
      expect(requeueSeconds(rolling)).toEqual(Option.some(rollTimeout / 1000))
      yield* TestClock.adjust(Duration.millis(rollTimeout - 1000))
      const almost = yield* tick(rolling, behaviour)
      expect(almost.decision.status.upgrade?.phase).toBe("Rolling")
      expect(requeueSeconds(almost)).toEqual(Option.some(1))
      yield* TestClock.adjust("1 second")
      const failed = yield* tick(almost, behaviour)
      expect(failed.decision.status.upgrade).toMatchObject({ phase: "Failed", failedStep: "Roll" })
      expect(findCondition(failed.decision.status.conditions, "UpgradeInProgress")?.message).toContain(
        "the backend was not ready on the new image within 30m"
      )
      expect(backendImage(failed)).toContain(v2)
      expect(Option.isNone(failed.decision.requeueAfter)).toBe(true)
    })
  )
})

describe("upgrade saga: retry annotation", () => {
  it.effect("a new value retries the failed step once with fresh attempts; the same value again does nothing", () =>
    Effect.gen(function* () {
      const ready = yield* readyOnV1("exportImport")
      const broken: ClusterBehaviour = { job: failing("Import") }
      // A value set before the failure does not count.
      const start = annotate(retarget(ready, v2, "exportImport"), retryAnnotation, "before")
      const { world: failed } = yield* runWithClock(start, failedAt, broken)
      const hash = failed.decision.status.upgrade?.targetHash ?? ""
      expect(failed.decision.status.upgrade?.failedStep).toBe("Import")
      expect((yield* tick(failed, broken)).decision.statusChanged).toBe(false)

      const retried = yield* tick(annotate(failed, retryAnnotation, "1"), broken)
      expect(retried.decision.status.upgrade).toMatchObject({ phase: "Importing", attempt: 4, maxAttempt: 6 })
      expect(retried.decision.status.upgrade?.failedStep).toBeUndefined()
      // The failed Job of attempt 3 goes first; then attempt 4 runs.
      expect(jobsOf(retried.decision)).toEqual([])
      const fresh = yield* tick(retried, broken)
      expect(jobsOf(fresh.decision)).toEqual([`${names.importJob(hash)}#4`])

      // Still broken: three more attempts, then Error again; the same annotation value does not retry again.
      const { world: failedAgain } = yield* runWithClock(fresh, failedAt, broken)
      expect(failedAgain.decision.status.upgrade).toMatchObject({ failedStep: "Import", attempt: 6 })
      expect((yield* tick(failedAgain, broken)).decision.status.upgrade?.phase).toBe("Failed")

      // Fixed, and a new value: the import runs once more and the upgrade completes.
      const { world: done } = yield* runWithClock(annotate(failedAgain, retryAnnotation, "2"), readyOn(v2), {})
      expect(done.decision.status.upgrade).toBeUndefined()
      expect(condition(done.decision, "ImportCompleted")).toBe("True/Succeeded")
    })
  )

  it.effect("retrying a failed roll waits another 30 minutes for the backend", () =>
    Effect.gen(function* () {
      let healthy = false
      const behaviour: ClusterBehaviour = { backendReady: (image) => healthy || !image.endsWith(v2) }
      const ready = yield* readyOnV1("inPlace")
      const { world: failed } = yield* runWithClock(retarget(ready, v2, "inPlace"), failedAt, behaviour)
      expect(failed.decision.status.upgrade?.failedStep).toBe("Roll")
      const retried = yield* tick(annotate(failed, retryAnnotation, "now"), behaviour)
      expect(retried.decision.status.upgrade?.phase).toBe("Rolling")
      expect(requeueSeconds(retried)).toEqual(Option.some(rollTimeout / 1000))
      healthy = true
      const { world: done } = yield* runUntil(retried, readyOn(v2), behaviour)
      expect(done.decision.status.currentVersion).toBe(v2)
    })
  )
})

describe("upgrade saga: rolling back and changing the target", () => {
  it.effect("setting the version back after a failed export returns to Ready on the old version", () =>
    Effect.gen(function* () {
      const ready = yield* readyOnV1("inPlace")
      const { world: failed } = yield* runWithClock(retarget(ready, v2, "inPlace"), failedAt, {
        job: failing("Export")
      })
      const { world: back } = yield* runUntil(retarget(failed, v1, "inPlace"), readyOn(v1))
      expect(back.decision.status.upgrade).toBeUndefined()
      expect(backendImage(back)).toContain(v1)
      expect(jobsOf(back.decision)).toEqual([])
      expect(backupsOf(back.decision)).toEqual([])
      expect(back.decision.delete.map((ref) => ref.kind)).not.toContain("ConvexBackup")
    })
  )

  it.effect("setting the version back after a failed import rolls the old images back and reattaches traffic", () =>
    Effect.gen(function* () {
      const ready = yield* readyOnV1("exportImport")
      const { world: failed } = yield* runWithClock(retarget(ready, v2, "exportImport"), failedAt, {
        job: failing("Import")
      })
      const back = yield* tick(retarget(failed, v1, "exportImport"))
      expect(backendImage(back)).toContain(v1)
      expect(has(back.decision, "HTTPRoute")).toBe(true)
      expect(find(back.decision, "Deployment", names.dashboard).spec.replicas).toBe(1)
      expect(has(back.decision, "Role")).toBe(false)
      const { world } = yield* runUntil(back, readyOn(v1))
      expect(world.decision.status.upgrade).toBeUndefined()
    })
  )

  it.effect("a new version before the roll exports again from the same old images to the new target", () =>
    Effect.gen(function* () {
      const { world: exporting } = yield* upgradeTo(
        "exportImport",
        { job: (step) => (step === "SaveEnv" ? "Running" : "Succeeded") },
        (world) => world.decision.status.upgrade?.phase === "SavingEnv"
      )
      const oldHash = exporting.decision.status.upgrade?.targetHash
      const retargeted = yield* tick(retarget(exporting, v3, "exportImport"), { job: () => "Running" })
      const upgrade = retargeted.decision.status.upgrade
      expect(upgrade).toMatchObject({ phase: "Exporting", fromVersion: v1, toVersion: v3, attempt: 1 })
      expect(upgrade?.targetHash).not.toBe(oldHash)
      expect(backendImage(retargeted)).toContain(v1)
      expect(backupsOf(retargeted.decision)).toEqual([`${names.preUpgradeBackup(upgrade?.targetHash ?? "", 1)}#1`])
      const { world } = yield* runUntil(retargeted, readyOn(v3))
      expect(backendImage(world)).toContain(v3)
    })
  )

  it.effect("a new version after the roll starts a new upgrade from the images that run now", () =>
    Effect.gen(function* () {
      // inPlace past its roll: the roll to v2 waits for a backend that is not ready.
      const ready = yield* readyOnV1("inPlace")
      const { world: rolling } = yield* runUntil(
        retarget(ready, v2, "inPlace"),
        (world) => world.decision.status.upgrade?.phase === "Rolling",
        { backendReady: (image) => !image.endsWith(v2) }
      )
      const retargeted = yield* tick(retarget(rolling, v3, "inPlace"), {
        job: () => "Running",
        backendReady: (image) => !image.endsWith(v2)
      })
      expect(retargeted.decision.status.upgrade).toMatchObject({
        phase: "Exporting",
        fromBackendImage: `ghcr.io/get-convex/convex-backend:${v2}`,
        toVersion: v3
      })
      expect(backendImage(retargeted)).toContain(v2)
    })
  )

  it.effect(
    "a new version after an exportImport roll onto a fresh claim starts again from the old images and claim",
    () =>
      Effect.gen(function* () {
        const { world: importing } = yield* upgradeTo(
          "exportImport",
          { job: (step) => (step === "Import" ? "Running" : "Succeeded") },
          (world) => world.decision.status.upgrade?.phase === "Importing"
        )
        expect(importing.decision.status.upgrade?.dataClaim).toBe(`${names.backendPvc}-g2`)
        const retargeted = yield* tick(retarget(importing, v3, "exportImport"), { job: () => "Running" })
        expect(retargeted.decision.status.upgrade).toMatchObject({
          phase: "Exporting",
          fromBackendImage: `ghcr.io/get-convex/convex-backend:${v1}`,
          toVersion: v3,
          dataClaim: `${names.backendPvc}-g3`
        })
        // The old version runs again on its own data; the abandoned fresh claim is retained.
        expect(backendImage(retargeted)).toContain(v1)
        expect(retargeted.decision.status.dataClaims).toEqual({
          current: names.backendPvc,
          retained: [`${names.backendPvc}-g2`]
        })
      })
  )
})

describe("upgrade saga: an operator restarted at any step", () => {
  it.effect(
    "decides from the status and what it observes alone: the same Jobs and ConvexBackups, nothing run twice",
    () =>
      Effect.gen(function* () {
        const ready = yield* readyOnV1("exportImport")
        let world = retarget(ready, v2, "exportImport")
        // Jobs run, and a backend rolling to v2 is not ready yet.
        const running: ClusterBehaviour = {
          job: () => "Running",
          backendReady: (image, phase) => !image.endsWith(v2) || phase !== "Rolling"
        }
        const visited: Array<string> = []
        for (let i = 0; i < 40 && !readyOn(v2)(world); i++) {
          // The current step's Job (if any) is rendered and runs.
          world = yield* tick(world, running)
          visited.push(where(world.decision))
          // A fresh operator (nothing but the stored status and the cluster) keeps exactly that: no new Job, no
          // Job applied again, the same status, the same wake-up.
          const restarted = yield* tick(world, running)
          expect(jobsOf(restarted.decision)).toEqual(jobsOf(world.decision))
          expect(restarted.decision.apply.filter((object) => object.kind === "Job")).toEqual([])
          expect(backupsOf(restarted.decision)).toEqual([])
          expect(restarted.decision.status.upgrade).toEqual(world.decision.status.upgrade)
          expect(restarted.decision.requeueAfter).toEqual(world.decision.requeueAfter)
          if (world.decision.status.upgrade?.retryAt !== undefined && Option.isSome(world.decision.requeueAfter)) {
            yield* TestClock.adjust(world.decision.requeueAfter.value)
          }
          // The export's first attempt fails once (so a restart while waiting to retry is covered too).
          world = yield* tick(world, {
            job: (step, attempt) => (step === "Export" && attempt === 1 ? "Failed" : "Succeeded")
          })
        }
        expect(readyOn(v2)(world)).toBe(true)
        expect(visited).toEqual(
          expect.arrayContaining([
            "Upgrading/Exporting/Exporting#1",
            "Upgrading/AttemptFailed/Exporting#2",
            "Upgrading/SavingEnv/SavingEnv#1",
            "Upgrading/Rolling/Rolling#1",
            "Upgrading/Importing/Importing#1",
            "Upgrading/RestoringEnv/RestoringEnv#1"
          ])
        )
      })
  )
})
