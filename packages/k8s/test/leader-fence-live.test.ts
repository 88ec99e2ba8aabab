/**
 * fenceWrites over the live client: a write asked for while the term held but still waiting for the rate limiter
 * when the term ends is not sent (the live client checks the fence again right before sending). A fake apiserver on
 * 127.0.0.1 counts what arrives; TestClock drives the rate limiter.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Ref, Stream, TestClock } from "effect"
import { KubeClient, type KubeObject, LeaderElection, Resource } from "../src/index.js"

/** Lets real I/O (the loopback HTTP round trips) make progress; not a timed wait. */
const io = Effect.repeatN(
  Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve))),
  20
)

const fakeApiserver = Effect.acquireRelease(
  Effect.async<{ server: http.Server; url: string; methods: Array<string> }>((resume) => {
    const methods: Array<string> = []
    const server = http.createServer((request, response) => {
      methods.push(request.method ?? "")
      response.writeHead(200, { "content-type": "application/json" })
      response.end(
        JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "default" } })
      )
    })
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, methods }))
    )
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

/** A Leadership whose term the test ends by hand. */
const stubLeadership = Effect.map(Ref.make(true), (leads) => ({
  end: Ref.set(leads, false),
  leadership: {
    identity: "a",
    isLeader: Ref.get(leads),
    fence: Effect.flatMap(Ref.get(leads), (ok) => (ok ? Effect.void : Effect.interrupt)),
    changes: Stream.empty,
    awaitLeadership: Effect.void
  } satisfies LeaderElection.Leadership
}))

const configMap = (n: number): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: `x-${n}`, namespace: "default" }
})

describe("LeaderElection.fenceWrites over the live client", () => {
  it.scoped("writes waiting for the rate limiter when the term ends are not sent; reads still are", () =>
    Effect.gen(function* () {
      const fake = yield* fakeApiserver
      const { end, leadership } = yield* stubLeadership
      const live = KubeClient.layerLive({
        source: { _tag: "Explicit", server: fake.url, insecureSkipTlsVerify: true },
        rateLimit: { qps: 10, burst: 1 }
      })
      const kube = Context.get(
        yield* Layer.build(LeaderElection.fenceWrites(leadership).pipe(Layer.provide(live))),
        KubeClient
      )
      // Three writes asked for at once while leading: one token, so one leaves and two wait 100 ms each.
      const writes = yield* Effect.forEach(
        [0, 1, 2],
        (n) => Effect.fork(kube.apply(Resource.ConfigMap, configMap(n), { fieldManager: "a", force: true })),
        { concurrency: "unbounded" }
      )
      yield* io
      expect(fake.methods).toEqual(["PATCH"])
      // The term ends (a freeze, a lost renewal) while they wait.
      yield* end
      yield* TestClock.adjust("1 second")
      yield* io
      expect(fake.methods).toEqual(["PATCH"])
      const exits = yield* Effect.forEach(writes, Fiber.await)
      expect(Exit.isSuccess(exits[0]!)).toBe(true)
      expect(exits.slice(1).map((exit) => Exit.isInterrupted(exit))).toEqual([true, true])
      // Reads are not fenced.
      const read = yield* Effect.fork(kube.get(Resource.ConfigMap, "x", { namespace: "default" }))
      yield* TestClock.adjust("1 second")
      yield* io
      expect((yield* Fiber.join(read)).metadata.name).toBe("x")
      expect(fake.methods).toEqual(["PATCH", "GET"])
    })
  )
})
