/**
 * Deleting an instance whose data claims have `deletionPolicy: Delete`: the finalizer deletes every data claim the
 * status names (the current one an exportImport upgrade moved to, and the retained ones) and the first one, and no
 * other claim.
 */
import { childNames } from "@convex-operator/core"
import { KubeClient, type KubeObject, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { finalize, finalizerName } from "../src/controllers/instance/finalizer.js"
import { ConvexInstances } from "../src/shell/resources.js"

const namespace = "apps"
const names = childNames("demo")
const claim = (name: string): KubeObject => ({
  apiVersion: "v1",
  kind: "PersistentVolumeClaim",
  metadata: { name, namespace },
  spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } }
})

describe("the finalizer and moved data claims", () => {
  it.effect("deletes the current and the retained data claims with deletionPolicy Delete, and no other claim", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      yield* kube.create(ConvexInstances, {
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexInstance",
        metadata: { name: "demo", namespace, finalizers: [finalizerName] },
        spec: {
          environment: "dev",
          version: "2222222222222222222222222222222222222222",
          backend: { storage: { pvc: { enabled: true, deletionPolicy: "Delete" } } }
        }
      } as KubeObject)
      // The status subresource: a create does not store it.
      yield* kube.patchStatus(
        ConvexInstances,
        "demo",
        { dataClaims: { current: `${names.backendPvc}-g3`, retained: [names.backendPvc, `${names.backendPvc}-g2`] } },
        { namespace }
      )
      const instance = yield* kube.get(ConvexInstances, "demo", { namespace })
      for (const name of [names.backendPvc, `${names.backendPvc}-g2`, `${names.backendPvc}-g3`, "other-backend-pvc"]) {
        yield* kube.create(Resource.PersistentVolumeClaim, claim(name))
      }

      yield* finalize({ ...instance, metadata: { ...instance.metadata, deletionTimestamp: "2025-06-01T12:00:00Z" } })

      const left = yield* kube.list(Resource.PersistentVolumeClaim, { namespace })
      expect(left.items.map((item) => item.metadata.name)).toEqual(["other-backend-pvc"])
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )
})
