/**
 * The schedule controller and a paused instance, on the in-memory apiserver: a run due while the instance has the
 * pause annotation creates no ConvexBackup and records why; once the annotation is gone the next run does.
 */
import { pauseAnnotation, SecretGenerator } from "@convex-operator/core"
import { EventRecorder, KubeClient, type KubeObject, RecordedEvents } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { startOperator } from "../src/app/operator.js"
import { ConvexBackups, ConvexScheduledBackups } from "../src/shell/backup-resources.js"
import { ConvexInstances } from "../src/shell/resources.js"

const namespace = "apps"
const layers = Layer.mergeAll(KubeClient.layerMemory(), EventRecorder.layerTest, SecretGenerator.layerTest(7))
const settle = Effect.repeatN(Effect.yieldNow(), 200)

describe("a scheduled backup of a paused instance", () => {
  it.scoped("is skipped with an event while paused and made again once resumed", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      yield* TestClock.setTime(new Date("2026-01-01T00:00:10Z").getTime())
      yield* kube.create(ConvexInstances, {
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexInstance",
        metadata: { name: "app", namespace, annotations: { [pauseAnnotation]: "true" } },
        spec: { environment: "dev", version: "1111111111111111111111111111111111111111" }
      } as KubeObject)
      yield* kube.create(ConvexScheduledBackups, {
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexScheduledBackup",
        metadata: { name: "nightly", namespace },
        spec: { instanceRef: { name: "app" }, schedule: "* * * * *", target: { pvc: {} } }
      } as KubeObject)
      const operator = yield* startOperator({
        namespaces: [namespace],
        concurrency: 2,
        settings: { operatorImage: "x" }
      })
      yield* operator.ready
      yield* settle

      yield* TestClock.adjust("1 minute")
      yield* settle
      expect((yield* kube.list(ConvexBackups, { namespace })).items).toEqual([])
      const skipped = (yield* yield* RecordedEvents).filter((event) => event.reason === "InstancePaused")
      expect(skipped).toHaveLength(1)
      expect(skipped[0]?.note).toContain("ConvexInstance app")

      yield* kube.patch(
        ConvexInstances,
        "app",
        { metadata: { annotations: { [pauseAnnotation]: null } } },
        { namespace, type: "merge", fieldManager: "test" }
      )
      yield* settle
      yield* TestClock.adjust("1 minute")
      yield* settle
      expect((yield* kube.list(ConvexBackups, { namespace })).items.map((backup) => backup.metadata.name)).toEqual([
        "nightly-202601010002"
      ])
    }).pipe(Effect.provide(layers))
  )
})
