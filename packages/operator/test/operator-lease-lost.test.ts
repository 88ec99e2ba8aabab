/**
 * Losing the lease stops the whole operator. The operator runs as `convex-operator run --leader-elect` runs it
 * (cli/run.ts): under the library's real leader election on a Lease of the in-memory apiserver, only while it leads,
 * its writes fenced by the term. One instance is Ready with a restart due in an hour; one is upgrading (its saga
 * fiber waits for the pre-upgrade backup); another is stuck in a reconcile (its StatefulSet apply never answers). The test gives the Lease to another holder (for a day), and then:
 *
 * - at its next renewal the candidate's term ends, a retry period later it steps down; the stuck reconcile gets the
 *   30 s grace period and is then interrupted;
 * - every watch of the operator is closed, and the upgrading instance's saga fiber is gone;
 * - from then on, while instances change, a new one appears and an hour passes (the restart falls due), no reconcile
 *   starts and no request but the candidate's Lease reads is sent.
 */
import { restartedAtAnnotation } from "@convex-operator/core/internal"
import { KubeClient, LeaderElection, MemoryApiServer, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, TestClock } from "effect"
import { startOperator } from "../src/app/operator.js"
import { ConvexInstances } from "../src/shell/resources.js"
import {
  createInstance,
  getInstance,
  layers,
  logReconciles,
  namespace,
  readyInstance,
  requestCount,
  requestsSince,
  settle,
  until,
  untilStatus,
  v2,
  wholeOperatorTimeout
} from "./support/operator-harness.js"

describe("the operator under leader election", () => {
  it.scoped(
    "stops every reconcile when the lease is lost: the running one interrupted, no request after",
    () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(Date.parse("2026-03-01T00:00:00Z"))
        const kube = yield* KubeClient
        const server = yield* MemoryApiServer

        // The apply of the instance "stuck"'s StatefulSet does not answer (until the test ends, should it fail early).
        let stuck: "no" | "running" | "interrupted" = "no"
        const release = yield* Deferred.make<void>()
        const client: typeof kube = {
          ...kube,
          apply: (resource, object, options) =>
            resource.kind === "StatefulSet" && object.metadata.name === "stuck-backend"
              ? Effect.suspend(() => {
                  stuck = "running"
                  return Deferred.await(release)
                }).pipe(
                  Effect.onInterrupt(() =>
                    Effect.sync(() => {
                      stuck = "interrupted"
                    })
                  ),
                  Effect.zipRight(kube.apply(resource, object, options))
                )
              : kube.apply(resource, object, options)
        }

        let sagas: () => ReadonlyArray<string> = () => []
        const leadership = yield* LeaderElection.make({ namespace, name: "convex-operator-leader", identity: "me" })
        const operate = Effect.scoped(
          Effect.gen(function* () {
            const operator = yield* startOperator({
              namespaces: [namespace],
              concurrency: 2,
              settings: { operatorImage: "x" }
            })
            yield* operator.ready
            sagas = () => operator.sagas("upgradeMove")
            return yield* Effect.never
          })
        )
        const reconciles: Array<string> = []
        yield* LeaderElection.whileLeader(
          leadership,
          operate.pipe(Effect.provide(LeaderElection.fenceWrites(leadership)))
        ).pipe(Effect.provideService(KubeClient, client), logReconciles(reconciles), Effect.forkScoped)
        yield* Effect.addFinalizer(() => Deferred.succeed(release, undefined))
        yield* until("leadership", leadership.isLeader)

        yield* readyInstance("demo", { maintenance: { restartInterval: "1h" } })
        yield* readyInstance("upgrading", {})
        yield* kube.patch(ConvexInstances, "upgrading", { spec: { version: v2 } }, { namespace, type: "merge" })
        yield* untilStatus("upgrading", "the export", (status) => status.upgrade?.phase === "Exporting")
        yield* until("the saga fiber", () => sagas().includes(`${namespace}/upgrading`))
        yield* createInstance("stuck", {})
        yield* until(
          "the stuck reconcile",
          Effect.sync(() => stuck === "running")
        )
        const watches = yield* server.openWatches
        expect(watches).toBeGreaterThan(0)

        // Another candidate takes the Lease (and holds it for a day).
        const lease = yield* kube.get(Resource.Lease, "convex-operator-leader", { namespace })
        const now = new Date(Date.parse("2026-03-01T00:00:00Z")).toISOString().replace("Z", "000Z")
        yield* kube.replace(Resource.Lease, {
          ...lease,
          spec: { holderIdentity: "other", leaseDurationSeconds: 86_400, acquireTime: now, renewTime: now }
        })
        // At the next renewal it sees the other holder: its term ends (writes are fenced from now on); the candidate
        // steps down a retry period later, which stops the operator.
        yield* TestClock.adjust("2 seconds")
        yield* until(
          "the term ended",
          Effect.map(leadership.isLeader, (leads) => !leads)
        )
        yield* TestClock.adjust("2 seconds")
        yield* settle
        expect(stuck).toBe("running")

        // The grace period for running reconciles ends: the stuck one is interrupted and the watches close.
        yield* TestClock.adjust("30 seconds")

        yield* until(
          "the stuck reconcile interrupted",
          Effect.sync(() => stuck === "interrupted")
        )
        yield* until(
          "every watch closed",
          Effect.map(server.openWatches, (open) => open === 0)
        )
        expect(sagas()).toEqual([])

        // Changes, a new instance, and the restart due: nothing happens.
        yield* kube.patch(
          ConvexInstances,
          "demo",
          { metadata: { labels: { team: "a" } } },
          { namespace, type: "merge", fieldManager: "test" }
        )
        yield* createInstance("late", {})
        const from = yield* requestCount
        reconciles.length = 0
        yield* TestClock.adjust("1 hour")
        yield* settle
        expect(reconciles).toEqual([])
        expect((yield* requestsSince(from)).filter((request) => !request.startsWith("GET leases"))).toEqual([])
        const backend = yield* kube.get(Resource.StatefulSet, "demo-backend", { namespace })
        const template = (backend.spec as { template: { metadata?: { annotations?: Record<string, string> } } })
          .template
        expect(template.metadata?.annotations?.[restartedAtAnnotation]).toBeUndefined()
        expect((yield* getInstance("late")).metadata.finalizers).toBeUndefined()
        expect(yield* leadership.isLeader).toBe(false)
      }).pipe(Effect.provide(layers)),
    wholeOperatorTimeout
  )
})
