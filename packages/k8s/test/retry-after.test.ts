/**
 * 429 Too Many Requests with `Retry-After` (API Priority and Fairness rejecting a request): the live client keeps
 * the wait on the error without sleeping, and a Controller on the memory apiserver (TestClock) retries the key no
 * sooner than asked, with no request in between.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Ref, TestClock } from "effect"
import {
  Action,
  ApiError,
  Controller,
  fromStatus,
  KubeClient,
  type KubeObject,
  MemoryApiServer,
  Metrics,
  parseRetryAfter,
  Resource,
  retryAfterOf
} from "../src/index.js"
import { Gizmo } from "./contract/harness.js"

const settle = Effect.repeatN(Effect.yieldNow(), 100)
const ns = "default"

const tooManyRequests = (request: string, seconds: number) =>
  fromStatus(
    request,
    429,
    { kind: "Status", code: 429, reason: "TooManyRequests", message: "Too many requests, please try again later." },
    seconds * 1000
  )

describe("Retry-After", () => {
  it("is read as delay-seconds or an HTTP date, from the header or the Status body, and through wrapping errors", () => {
    expect(parseRetryAfter("3", 0)).toBe(3000)
    expect(parseRetryAfter(" 0 ", 0)).toBe(0)
    expect(parseRetryAfter("Thu, 01 Jan 1970 00:00:05 GMT", 1000)).toBe(4000)
    expect(parseRetryAfter("soon", 0)).toBeUndefined()
    expect(parseRetryAfter(undefined, 0)).toBeUndefined()

    expect(tooManyRequests("GET /x", 2)).toMatchObject({ _tag: "ApiError", code: 429, retryAfterMillis: 2000 })
    // No header: the Status body's details.retryAfterSeconds (the apiserver sets both).
    expect(fromStatus("GET /x", 429, { code: 429, details: { retryAfterSeconds: 1 } })).toMatchObject({
      retryAfterMillis: 1000
    })
    expect("retryAfterMillis" in fromStatus("GET /x", 500, { code: 500 })).toBe(false)

    const error = tooManyRequests("GET /x", 5)
    expect(retryAfterOf(error)).toBe(5000)
    expect(retryAfterOf({ _tag: "ApplyFailed", cause: error })).toBe(5000)
    expect(retryAfterOf("boom")).toBeUndefined()
    expect(retryAfterOf(new ApiError({ request: "GET /x", message: "", code: 503, reason: "" }))).toBeUndefined()
  })

  it.scoped("the live client returns a 429 at once, with its Retry-After, and does not resend it", () =>
    Effect.gen(function* () {
      let hits = 0
      const server = yield* Effect.acquireRelease(
        Effect.async<http.Server>((resume) => {
          const s = http.createServer((_request, response) => {
            hits++
            response.writeHead(429, { "content-type": "application/json", "retry-after": "7" })
            response.end(JSON.stringify({ kind: "Status", code: 429, reason: "TooManyRequests", message: "slow down" }))
          })
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) =>
          Effect.async<void>((resume) => {
            s.closeAllConnections()
            s.close(() => resume(Effect.void))
          })
      )
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const kube = Context.get(
        yield* Layer.build(
          KubeClient.layerLive({
            source: { _tag: "Explicit", server: url, insecureSkipTlsVerify: true },
            rateLimit: false
          })
        ),
        KubeClient
      )
      const configMap = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "a", namespace: ns },
        data: {}
      } as KubeObject
      const error = yield* Effect.flip(kube.apply(Resource.ConfigMap, configMap, { fieldManager: "test" }))
      expect(error).toMatchObject({ _tag: "ApiError", code: 429, reason: "TooManyRequests", retryAfterMillis: 7000 })
      expect(hits).toBe(1)
    })
  )

  it.scoped("a Controller waits out each 429's Retry-After per key: no request before it, then converges", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* MemoryApiServer
      const attempts = yield* Ref.make(0)
      const controller = yield* Controller.make({
        name: "gizmos",
        resource: Gizmo,
        owns: [{ resource: Resource.ConfigMap }],
        reconcile: (gizmo) =>
          Effect.gen(function* () {
            yield* Ref.update(attempts, (n) => n + 1)
            yield* kube.apply(
              Resource.ConfigMap,
              {
                apiVersion: "v1",
                kind: "ConfigMap",
                metadata: {
                  name: `${gizmo.metadata.name}-config`,
                  namespace: ns,
                  ownerReferences: [Resource.ownerReference(gizmo)]
                },
                data: { ok: "yes" }
              } as KubeObject,
              { fieldManager: "gizmos", force: true }
            )
            return Action.awaitChange
          })
      })
      yield* controller.ready
      yield* kube.create(Gizmo, {
        apiVersion: Gizmo.apiVersion,
        kind: Gizmo.kind,
        metadata: { name: "g", namespace: ns }
      })
      yield* settle
      const before = (yield* memory.requests).length
      const first = yield* Ref.get(attempts)
      const tries = Effect.map(Ref.get(attempts), (n) => n - first)
      // The next two requests (the reconcile's applies) are rejected as APF does, asking for 3 s each time.
      yield* memory.failNext(2, (request) => tooManyRequests(request, 3))
      yield* controller.queue.enqueue(`${ns}/g`)
      yield* settle
      const configMaps = Effect.map(kube.list(Resource.ConfigMap, { namespace: ns }), (l) => l.items.length)
      expect(yield* tries).toBe(1)
      yield* TestClock.adjust("2999 millis")
      yield* settle
      expect(yield* tries).toBe(1)
      expect((yield* memory.requests).length - before).toBe(1)
      yield* TestClock.adjust("1 millis")
      yield* settle
      expect(yield* tries).toBe(2)
      yield* TestClock.adjust("2999 millis")
      yield* settle
      expect(yield* tries).toBe(2)
      yield* TestClock.adjust("1 millis")
      yield* settle
      expect(yield* tries).toBe(3)
      // Three applies: two rejected, one served; then nothing more, however long the clock runs.
      expect((yield* memory.requests).length - before).toBe(3)
      expect(yield* configMaps).toBe(1)
      yield* TestClock.adjust("10 minutes")
      yield* settle
      expect(yield* tries).toBe(3)
    }).pipe(Effect.provide(Layer.mergeAll(KubeClient.layerMemory(), Metrics.Metrics.layer)))
  )
})
