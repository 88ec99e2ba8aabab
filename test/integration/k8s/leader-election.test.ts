/** LeaderElection (two candidates on a real Lease) and EventRecorder against a real apiserver. */

import { EventRecorder, KubeClient, LeaderElection, Resource } from "@convex-operator/k8s"
import { expect, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Schedule, Scope } from "effect"
import { LocalCluster } from "../../cluster/local-cluster.js"
import { clusterLayerOptions } from "../support.js"
import { liveClient } from "./support.js"

// Short timings keep the test fast; the defaults (15 s / 10 s / 2 s) behave the same, slower.
const timings = { leaseDuration: "3 seconds", renewDeadline: "2 seconds", retryPeriod: "500 millis" } as const

/** A candidate with its own client, as if in its own process; closing `scope` "kills" it. */
const candidate = (lease: string, identity: string, releaseOnCancel: boolean) =>
  Effect.gen(function* () {
    const cluster = yield* LocalCluster
    const scope = yield* Scope.make()
    const client = yield* Layer.buildWithScope(
      KubeClient.layerLive({ source: { _tag: "File", path: cluster.kubeconfigPath }, rateLimit: false }),
      scope
    )
    const leadership = yield* LeaderElection.make({
      namespace: "default",
      name: lease,
      identity,
      releaseOnCancel,
      ...timings
    }).pipe(Effect.provide(client), Scope.extend(scope))
    return { identity, leadership, scope }
  })

const waitFor = (check: Effect.Effect<boolean>, timeout: `${number} seconds`) =>
  check.pipe(
    Effect.flatMap((ok) => (ok ? Effect.void : Effect.fail("not yet"))),
    Effect.retry(Schedule.spaced("25 millis").pipe(Schedule.upTo(timeout)))
  )

const leaseSpec = (name: string) =>
  Effect.flatMap(KubeClient, (kube) =>
    Effect.map(kube.get(Resource.Lease, name, { namespace: "default" }), (l) => l.spec as Record<string, unknown>)
  )

layer(Layer.provideMerge(liveClient(), LocalCluster.layer({ components: "apiserver" })), clusterLayerOptions)(
  "LeaderElection and EventRecorder against a real apiserver",
  (it) => {
    it.effect("two candidates: exactly one leads; killing it hands over within the lease duration", () =>
      Effect.gen(function* () {
        const a = yield* candidate("lock-crash", "a", false)
        const b = yield* candidate("lock-crash", "b", false)
        const both = [a, b]
        const leaders = Effect.map(
          Effect.forEach(both, (c) => c.leadership.isLeader),
          (flags) => both.filter((_, i) => flags[i]).map((c) => c.identity)
        )
        yield* waitFor(
          Effect.map(leaders, (ls) => ls.length === 1),
          "10 seconds"
        )
        // Stays exactly one over several renewals.
        for (let i = 0; i < 20; i++) {
          expect((yield* leaders).length).toBe(1)
          yield* Effect.sleep("100 millis")
        }
        const [leaderId] = yield* leaders
        const leader = both.find((c) => c.identity === leaderId)!
        const follower = both.find((c) => c.identity !== leaderId)!
        expect((yield* leaseSpec("lock-crash")).holderIdentity).toBe(leaderId)
        const killed = Date.now()
        yield* Scope.close(leader.scope, Exit.void)
        yield* waitFor(follower.leadership.isLeader, "10 seconds")
        const handover = Date.now() - killed
        const spec = yield* leaseSpec("lock-crash")
        console.log(`[k8s] leader ${leaderId} killed: ${follower.identity} leads after ${handover} ms (lease 3 s)`)
        expect(spec.holderIdentity).toBe(follower.identity)
        expect(spec.leaseTransitions).toBe(1)
        expect(String(spec.renewTime)).toMatch(/\.\d{6}Z$/)
        // The follower waits a lease duration from the last renewal it saw; its polls (a jittered retry
        // period, ≤ 1.1 s) add at most two periods, plus request latency.
        expect(handover).toBeLessThan(3000 + 2 * 1100 + 500)
        yield* Scope.close(follower.scope, Exit.void)
      })
    )

    it.effect("a leader that shuts down releases the lease: the successor takes over within a retry period", () =>
      Effect.gen(function* () {
        const a = yield* candidate("lock-release", "a", true)
        yield* waitFor(a.leadership.isLeader, "10 seconds")
        const b = yield* candidate("lock-release", "b", true)
        yield* Effect.sleep("1 second")
        expect(yield* b.leadership.isLeader).toBe(false)
        const released = Date.now()
        yield* Scope.close(a.scope, Exit.void)
        yield* waitFor(b.leadership.isLeader, "10 seconds")
        const handover = Date.now() - released
        console.log(`[k8s] leader released: successor leads after ${handover} ms`)
        // One jittered retry period (≤ 1.1 s) plus request latency.
        expect(handover).toBeLessThan(2500)
        yield* Scope.close(b.scope, Exit.void)
        expect((yield* leaseSpec("lock-release")).holderIdentity).toBe("")
      })
    )

    it.effect("events.k8s.io/v1: MicroTime accepted, repeats become a series", () =>
      Effect.gen(function* () {
        const kube = yield* KubeClient
        const regarding = yield* kube.create(Resource.ConfigMap, {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "event-subject", namespace: "default" }
        })
        const recorder = yield* EventRecorder
        const spec = { regarding, type: "Normal", reason: "Configured", action: "Reconcile", note: "all good" } as const
        yield* recorder.record(spec)
        yield* recorder.record(spec)
        yield* recorder.record(spec)
        const events = (yield* kube.list(Resource.Event, { namespace: "default" })).items.filter(
          (e) => (e.regarding as { uid?: string } | undefined)?.uid === regarding.metadata.uid
        )
        expect(events).toHaveLength(1)
        expect(events[0]?.series).toMatchObject({ count: 3 })
        expect(String(events[0]?.eventTime)).toMatch(/\.\d{6}Z$/)
        expect(events[0]?.reportingController).toBe("k8s.convex-operator.test/recorder")
      }).pipe(
        Effect.provide(EventRecorder.layer({ controller: "k8s.convex-operator.test/recorder", instance: "test-0" }))
      )
    )
  }
)
