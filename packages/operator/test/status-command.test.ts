/**
 * What `status <instance>` reads, against the in-memory apiserver: the instance, its data claim, the backups and
 * schedules of its namespace, the Job an upgrade waits for and the events about it; a read that is forbidden is
 * a problem in the report, not a failure; a missing instance is named.
 */
import { KubeClient, type KubeObject, MemoryApiServer, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { readStatusInputs } from "../src/cli/status.js"
import { buildReport } from "../src/status-report/build.js"
import { failing, now, ns, upgrading } from "./support/status-fixtures.js"

const resourceOf = (object: KubeObject) => {
  const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : ["", object.apiVersion]
  const plural = `${object.kind.toLowerCase()}${object.kind.endsWith("s") ? "es" : "s"}`
  return Resource.make({ group: group ?? "", version: version ?? "v1", kind: object.kind, plural, namespaced: true })
}

const seed = (objects: ReadonlyArray<KubeObject>) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    for (const object of objects) {
      const { status, ...rest } = object as KubeObject & { status?: unknown }
      const created = yield* kube.create(resourceOf(object), rest as KubeObject)
      if (status !== undefined) {
        yield* kube.patchStatus(resourceOf(object), created.metadata.name ?? "", status, {
          namespace: ns
        })
      }
    }
    yield* TestClock.setTime(now.getTime())
  }).pipe(Effect.orDie)

describe("status: what it reads", () => {
  it.effect("an upgrading instance: its fresh claim, its backups and the import Job", () =>
    Effect.gen(function* () {
      yield* seed([upgrading.instance, ...upgrading.backups, upgrading.claim!, upgrading.upgradeWork!])
      const inputs = yield* readStatusInputs("app", ns)
      expect(inputs.claim?.metadata.name).toBe("app-backend-pvc-g1")
      expect(inputs.upgradeWork?.metadata.name).toBe("app-import-0a1b2c3d4e")
      expect(inputs.backups.map((backup) => backup.metadata.name)).toEqual(["app-pre-upgrade-0a1b2c3d4e-1"])
      expect(inputs.now).toEqual(now)
      expect(inputs.problems).toEqual([])
      expect(buildReport(inputs).upgrade?.job?.state).toBe("Running")
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.effect("events about the instance; a forbidden list of backups is a problem, not a failure", () =>
    Effect.gen(function* () {
      yield* seed([failing.instance, ...failing.events])
      const server = yield* MemoryApiServer
      yield* server.forbid([{ verb: "list", resource: "convexbackups" }])
      const inputs = yield* readStatusInputs("app", ns)
      // Only the events about this instance are read (the one about "other" is not).
      expect(inputs.events.map((event) => (event as { reason?: string }).reason).sort()).toEqual([
        "BackupFailed",
        "ValidationFailed"
      ])
      expect(inputs.problems).toHaveLength(1)
      expect(inputs.problems[0]).toMatch(/^cannot list ConvexBackups: Forbidden: /)
      expect(buildReport(inputs).events.map((event) => event.reason)).toEqual(["ValidationFailed", "BackupFailed"])
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.effect("a missing instance is named, with where to look", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(readStatusInputs("nope", ns))
      expect(error.message).toBe(
        `ConvexInstance ${ns}/nope not found (kubectl get convexinstances -n ${ns} lists the instances there)`
      )
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )
})
