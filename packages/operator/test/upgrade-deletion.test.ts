/**
 * Deleting an instance in the middle of an upgrade: the finalizer deletes its upgrade Jobs (with their pods) and
 * nothing else of the upgrade: the pre-upgrade ConvexBackup and the saved-env Secret stay, as do other instances'
 * Jobs.
 */
import { childNames, managedBy } from "@convex-operator/core"
import { upgradeHashLabel } from "@convex-operator/core/internal"
import { KubeClient, type KubeObject, MemoryApiServer, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { finalize, finalizerName } from "../src/controllers/instance/finalizer.js"
import { ConvexBackups } from "../src/shell/backup-resources.js"
import { ConvexInstances } from "../src/shell/resources.js"

const namespace = "apps"
const names = childNames("demo")
const labels = (instance: string) => ({
  "app.kubernetes.io/managed-by": managedBy,
  "app.kubernetes.io/instance": instance,
  "app.kubernetes.io/component": "snapshot"
})
const job = (name: string, instance: string): KubeObject => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name, namespace, labels: labels(instance) },
  spec: { backoffLimit: 0, template: { spec: { restartPolicy: "Never", containers: [{ name: "x", image: "x" }] } } }
})

describe("deleting an instance mid-upgrade", () => {
  it.effect("removes its upgrade Jobs and the finalizer; keeps the pre-upgrade backup and the saved variables", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const instance = yield* kube.create(ConvexInstances, {
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexInstance",
        metadata: { name: "demo", namespace, finalizers: [finalizerName] },
        spec: { environment: "dev", version: "2222222222222222222222222222222222222222" },
        status: { phase: "Upgrading", upgrade: { phase: "Importing" } }
      } as KubeObject)
      yield* kube.create(Resource.Job, job(names.envSaveJob("abcdef0123456789"), "demo"))
      yield* kube.create(Resource.Job, job(names.importJob("abcdef0123456789"), "demo"))
      yield* kube.create(Resource.Job, job("other-import-abcdef0123", "other"))
      yield* kube.create(Resource.Secret, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name: names.savedEnv("abcdef0123456789"),
          namespace,
          labels: { "app.kubernetes.io/managed-by": managedBy, "app.kubernetes.io/component": "snapshot" }
        },
        data: { API_KEY: "czNjcmV0" }
      } as KubeObject)
      const backup = names.preUpgradeBackup("abcdef0123456789", 1)
      yield* kube.create(ConvexBackups, {
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexBackup",
        metadata: { name: backup, namespace, labels: { ...labels("demo"), [upgradeHashLabel]: "abcdef0123456789" } },
        spec: { instanceRef: { name: "demo" }, target: { pvc: {} }, deletionPolicy: "Retain" }
      } as KubeObject)

      yield* finalize({ ...instance, metadata: { ...instance.metadata, deletionTimestamp: "2025-06-01T12:00:00Z" } })

      const server = yield* MemoryApiServer
      const left = (yield* server.objects).map((object) => `${object.kind}/${object.metadata.name}`)
      expect(left.filter((key) => key.startsWith("Job/"))).toEqual(["Job/other-import-abcdef0123"])
      expect(left).toContain(`Secret/${names.savedEnv("abcdef0123456789")}`)
      expect(left).toContain(`ConvexBackup/${backup}`)
      const after = yield* kube.get(ConvexInstances, "demo", { namespace })
      expect(after.metadata.finalizers ?? []).toEqual([])
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )
})
