/** The per-instance metrics on /metrics (monitoring/collector.ts), served from in-memory caches on loopback. */
import { Health, type KubeObject, Metrics } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope, TestClock } from "effect"
import { collectInstanceMetrics } from "../src/monitoring/collector.js"

const instances: Array<KubeObject> = [
  {
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name: "demo", namespace: "apps" },
    spec: { environment: "dev", version: "1111111111111111111111111111111111111111" },
    status: {
      phase: "Ready",
      conditions: [
        { type: "Ready", status: "True", lastTransitionTime: "1970-01-01T00:00:00Z", reason: "R", message: "" },
        {
          type: "StatefulSetReady",
          status: "True",
          lastTransitionTime: "1970-01-01T00:00:00Z",
          reason: "R",
          message: ""
        }
      ]
    }
  } as unknown as KubeObject
]
const backups: Array<KubeObject> = [
  {
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexBackup",
    metadata: { name: "b", namespace: "apps" },
    spec: { instanceRef: { name: "demo" } },
    status: { phase: "Completed", finishedAt: "1970-01-01T01:00:00Z", sizeBytes: 4096 }
  } as unknown as KubeObject
]
const source = { instances: () => instances, backups: () => backups, scheduledBackups: () => [] }

const scrape = (url: string) => Effect.promise(() => fetch(`${url}/metrics`).then((response) => response.text()))

describe("collectInstanceMetrics", () => {
  it.scoped("/metrics serves the instance's series, computed at each scrape, until the scope closes", () =>
    Effect.gen(function* () {
      const registry = Metrics.makeRegistry()
      const server = yield* Health.serve({ port: 0, host: "127.0.0.1", registry })
      const scope = yield* Scope.make()
      yield* collectInstanceMetrics(source).pipe(Effect.provideService(Metrics.Metrics, registry), Scope.extend(scope))
      const first = yield* scrape(server.url)
      expect(first).toContain("# HELP convex_operator_instance_ready ")
      expect(first).toContain('convex_operator_instance_ready{name="demo",namespace="apps"} 1')
      expect(first).toContain('convex_operator_instance_phase{name="demo",namespace="apps",phase="Ready"} 1')
      expect(first).toContain('convex_operator_instance_phase{name="demo",namespace="apps",phase="Error"} 0')
      expect(first).toContain(
        'convex_operator_instance_backup_last_success_timestamp_seconds{name="demo",namespace="apps"} 3600'
      )
      expect(first).toContain(
        'convex_operator_instance_backup_last_success_size_bytes{name="demo",namespace="apps"} 4096'
      )
      // Ready since the epoch with the default 168h restart interval; the TestClock's now (0) is before it is due.
      expect(first).toContain(
        `convex_operator_instance_next_restart_timestamp_seconds{name="demo",namespace="apps"} ${168 * 3600}`
      )
      // The cache changes, the clock moves past the due time: the next scrape says so, with no write in between.
      instances.push({ ...instances[0], metadata: { name: "second", namespace: "apps" } } as KubeObject)
      yield* TestClock.adjust("200 hours")
      const second = yield* scrape(server.url)
      expect(second).toContain('convex_operator_instance_ready{name="second",namespace="apps"} 1')
      expect(second).toContain(
        `convex_operator_instance_next_restart_timestamp_seconds{name="demo",namespace="apps"} ${200 * 3600}`
      )
      yield* Scope.close(scope, Exit.void)
      expect(yield* scrape(server.url)).not.toContain("convex_operator_instance_")
    })
  )
})
