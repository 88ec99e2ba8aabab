/**
 * The backup controller and its own new Job, through the whole operator on the in-memory apiserver: the status write
 * (Running) that follows the Job's creation comes back on the ConvexBackup watch before the Job's own watch has
 * delivered the Job (here the Job watch lags by a few scheduler turns, as one stream of several may). That Job is not
 * "disappeared": the backup stays Running (it was marked Failed once, which made every pre-upgrade backup fail).
 */
import { KubeClient, type KubeObject, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream, TestClock } from "effect"
import { ConvexBackups } from "../src/shell/backup-resources.js"
import { layers, namespace, readyInstance, runOperator, settle, until } from "./support/operator-harness.js"

const phaseOf = (backup: KubeObject) => (backup.status as { phase?: string } | undefined)?.phase

describe("a new backup's Job not yet in the controller's store", () => {
  it.scoped("leaves the backup Running", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.parse("2026-03-01T00:00:00Z"))
      const kube = yield* KubeClient
      // Every Job event reaches the operator some scheduler turns late.
      const lagging: typeof kube = {
        ...kube,
        watch: (resource, options) =>
          resource.kind === "Job"
            ? kube.watch(resource, options).pipe(Stream.tap(() => Effect.repeatN(Effect.yieldNow(), 50)))
            : kube.watch(resource, options)
      }
      yield* runOperator().pipe(Effect.provideService(KubeClient, lagging))
      yield* readyInstance("demo", {})
      yield* kube.create(ConvexBackups, {
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexBackup",
        metadata: { name: "manual", namespace },
        spec: { instanceRef: { name: "demo" }, target: { pvc: {} } }
      } as KubeObject)
      yield* until(
        "the backup started",
        Effect.map(kube.get(ConvexBackups, "manual", { namespace }), (backup) => phaseOf(backup) !== undefined)
      )
      yield* settle
      expect(phaseOf(yield* kube.get(ConvexBackups, "manual", { namespace }))).toBe("Running")
      const job = yield* kube.get(Resource.Job, "manual-backup", { namespace })
      expect(job.metadata.ownerReferences?.[0]?.name).toBe("manual")
    }).pipe(Effect.provide(layers))
  )
})
