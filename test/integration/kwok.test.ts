/**
 * Smoke test of the "full" local cluster: controllers, scheduler and kwok turn workloads into Ready pods, and claims
 * bind through the default StorageClass.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { failedJobPodLabel, failJobPods } from "../cluster/failing-jobs.js"
import { defaultStorageClass } from "../cluster/local-cluster.js"
import { waitUntil } from "../cluster/wait.js"
import { clusterLayerOptions, conditionStatus, type KubeObject, LocalCluster } from "./support.js"

const labels = { app: "smoke-web" }

const statefulSet: KubeObject = {
  apiVersion: "apps/v1",
  kind: "StatefulSet",
  metadata: { name: "smoke-web", namespace: "default" },
  spec: {
    serviceName: "smoke-web",
    replicas: 1,
    selector: { matchLabels: labels },
    template: {
      metadata: { labels },
      spec: { containers: [{ name: "web", image: "registry.invalid/never-pulled:1" }] }
    }
  }
}

const job: KubeObject = {
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name: "smoke-job", namespace: "default" },
  spec: {
    backoffLimit: 0,
    template: {
      spec: { restartPolicy: "Never", containers: [{ name: "main", image: "registry.invalid/never-pulled:1" }] }
    }
  }
}

const eventually = <A>(description: string, check: Effect.Effect<Option.Option<A>, unknown>) =>
  waitUntil(check, { component: "test", description, timeout: "40 seconds", interval: "250 millis" })

layer(LocalCluster.layer({ components: "full" }), clusterLayerOptions)("full local cluster (kwok)", (it) => {
  it.effect("has a Ready fake node", () =>
    Effect.gen(function* () {
      const cluster = yield* LocalCluster
      const node = yield* cluster.objects.get({ apiVersion: "v1", kind: "Node" }, cluster.nodeName!)
      expect(conditionStatus(node, "Ready")).toBe("True")
    })
  )

  it.effect("runs a StatefulSet to a Ready pod on the kwok node", () =>
    Effect.gen(function* () {
      const { objects, nodeName } = yield* LocalCluster
      yield* objects.apply(statefulSet)
      const pod = yield* eventually(
        "pod smoke-web-0 Ready",
        objects
          .get({ apiVersion: "v1", kind: "Pod", namespace: "default" }, "smoke-web-0")
          .pipe(Effect.map((pod) => (conditionStatus(pod, "Ready") === "True" ? Option.some(pod) : Option.none())))
      )
      expect((pod.spec as { nodeName?: string }).nodeName).toBe(nodeName)
      const ready = yield* eventually(
        "StatefulSet smoke-web readyReplicas 1",
        objects.get({ apiVersion: "apps/v1", kind: "StatefulSet", namespace: "default" }, "smoke-web").pipe(
          Effect.map((sts) => {
            const readyReplicas = (sts.status as { readyReplicas?: number } | undefined)?.readyReplicas
            return readyReplicas === 1 ? Option.some(readyReplicas) : Option.none()
          })
        )
      )
      expect(ready).toBe(1)
    })
  )

  it.effect("runs a Job to Complete", () =>
    Effect.gen(function* () {
      const { objects } = yield* LocalCluster
      yield* objects.apply(job)
      const done = yield* eventually(
        "Job smoke-job Complete",
        objects
          .get({ apiVersion: "batch/v1", kind: "Job", namespace: "default" }, "smoke-job")
          .pipe(Effect.map((job) => (conditionStatus(job, "Complete") === "True" ? Option.some(job) : Option.none())))
      )
      expect((done.status as { succeeded?: number }).succeeded).toBe(1)
    })
  )

  it.effect("binds a claim without a class through the default StorageClass, and a pod mounting it runs", () =>
    Effect.gen(function* () {
      const { objects } = yield* LocalCluster
      const claimRef = { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "default" }
      yield* objects.apply({
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: "smoke-data", namespace: "default" },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } }
      })
      const bound = yield* eventually(
        "PersistentVolumeClaim smoke-data Bound",
        objects
          .get(claimRef, "smoke-data")
          .pipe(
            Effect.map((claim) =>
              (claim.status as { phase?: string } | undefined)?.phase === "Bound" ? Option.some(claim) : Option.none()
            )
          )
      )
      expect((bound.spec as { storageClassName?: string }).storageClassName).toBe(defaultStorageClass.metadata.name)
      yield* objects.apply({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "smoke-mounter", namespace: "default" },
        spec: {
          containers: [
            {
              name: "main",
              image: "registry.invalid/never-pulled:1",
              volumeMounts: [{ name: "data", mountPath: "/data" }]
            }
          ],
          volumes: [{ name: "data", persistentVolumeClaim: { claimName: "smoke-data" } }]
        }
      })
      yield* eventually(
        "pod smoke-mounter Ready",
        objects
          .get({ apiVersion: "v1", kind: "Pod", namespace: "default" }, "smoke-mounter")
          .pipe(Effect.map((pod) => (conditionStatus(pod, "Ready") === "True" ? Option.some(pod) : Option.none())))
      )
    })
  )

  it.effect("fails the pods of chosen Jobs on purpose, and only while asked (failJobPods)", () =>
    Effect.gen(function* () {
      const { objects } = yield* LocalCluster
      const jobNamed = (name: string): KubeObject => ({ ...job, metadata: { name, namespace: "default" } })
      const jobRef = { apiVersion: "batch/v1", kind: "Job", namespace: "default" }
      const finished = (name: string) =>
        eventually(
          `Job ${name} finished`,
          objects
            .get(jobRef, name)
            .pipe(
              Effect.map((found) =>
                conditionStatus(found, "Complete") === "True"
                  ? Option.some("Complete")
                  : conditionStatus(found, "Failed") === "True"
                    ? Option.some("Failed")
                    : Option.none()
              )
            )
        )
      const failing = yield* failJobPods({ namespace: "default", jobNamePrefix: "doomed-" })
      yield* objects.apply(jobNamed("doomed-1"))
      yield* objects.apply(jobNamed("spared-1"))
      expect(yield* finished("doomed-1")).toBe("Failed")
      expect(yield* finished("spared-1")).toBe("Complete")
      const pods = yield* objects.list({ apiVersion: "v1", kind: "Pod", namespace: "default" })
      const doomed = pods.find((pod) => pod.metadata.name?.startsWith("doomed-1-"))
      expect((doomed?.metadata as { labels?: Record<string, string> } | undefined)?.labels?.[failedJobPodLabel]).toBe(
        "Failed"
      )
      expect(doomed?.status).toMatchObject({
        phase: "Failed",
        containerStatuses: [{ state: { terminated: { exitCode: 1, reason: "Error" } } }]
      })

      yield* failing.stop
      yield* objects.apply(jobNamed("doomed-2"))
      expect(yield* finished("doomed-2")).toBe("Complete")
    })
  )
})
