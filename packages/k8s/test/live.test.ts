/**
 * The live layer against a tiny fake apiserver on 127.0.0.1 (plain HTTP): status → typed errors,
 * watch lines and ERROR events, the client-side rate limit under TestClock. And Schema-typed resources.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Ref, Schema, Stream, TestClock } from "effect"
import { KubeClient, type KubeObject, Resource } from "../src/index.js"

type Handler = (request: http.IncomingMessage, response: http.ServerResponse) => void

const fakeApiserver = (handler: Handler) =>
  Effect.acquireRelease(
    Effect.async<{ server: http.Server; url: string; hits: () => number }>((resume) => {
      let hits = 0
      const server = http.createServer((request, response) => {
        hits++
        handler(request, response)
      })
      server.listen(0, "127.0.0.1", () =>
        resume(
          Effect.succeed({
            server,
            url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            hits: () => hits
          })
        )
      )
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

const json = (response: http.ServerResponse, code: number, body: unknown) => {
  response.writeHead(code, { "content-type": "application/json" })
  response.end(JSON.stringify(body))
}

/** Lets real I/O (the loopback HTTP round trips) make progress; not a timed wait. */
const io = Effect.repeatN(
  Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve))),
  20
)

const live = (url: string, rateLimit: { qps: number; burst: number } | false = false) =>
  // client-node accepts plain HTTP only with TLS verification off (there is no TLS here at all).
  KubeClient.layerLive({ source: { _tag: "Explicit", server: url, insecureSkipTlsVerify: true }, rateLimit })

describe("KubeClient.layerLive (fake apiserver)", () => {
  it.scoped("maps Status responses to typed errors, with causes", () =>
    Effect.gen(function* () {
      const fake = yield* fakeApiserver((request, response) => {
        if (request.url?.includes("/missing"))
          return json(response, 404, { kind: "Status", code: 404, reason: "NotFound", message: "not found" })
        if (request.url?.includes("/taken"))
          return json(response, 409, { kind: "Status", code: 409, reason: "AlreadyExists", message: "exists" })
        if (request.url?.includes("/forbidden"))
          return json(response, 403, { kind: "Status", code: 403, reason: "Forbidden", message: "no" })
        return json(response, 422, {
          kind: "Status",
          code: 422,
          reason: "Invalid",
          message: "bad",
          details: { causes: [{ reason: "FieldValueInvalid", field: "spec.size", message: "must be ≥ 1" }] }
        })
      })
      const kube = Context.get(yield* Layer.build(live(fake.url)), KubeClient)
      const error = (name: string) => Effect.flip(kube.get(Resource.ConfigMap, name, { namespace: "default" }))
      expect((yield* error("missing"))._tag).toBe("NotFound")
      const conflict = yield* error("taken")
      expect(conflict._tag === "Conflict" && conflict.reason).toBe("AlreadyExists")
      expect((yield* error("forbidden"))._tag).toBe("Forbidden")
      const invalid = yield* error("other")
      expect(invalid._tag === "Invalid" && invalid.causes.map((c) => c.field)).toEqual(["spec.size"])
      expect(invalid.message).toBe("bad")
    })
  )

  it.scoped("streams watch lines; an ERROR 410 event fails with Gone", () =>
    Effect.gen(function* () {
      const fake = yield* fakeApiserver((request, response) => {
        expect(request.url).toContain("watch=1")
        expect(request.url).toContain("allowWatchBookmarks=true")
        response.writeHead(200, { "content-type": "application/json" })
        const cm = {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "a", namespace: "default", resourceVersion: "5" }
        }
        response.write(`${JSON.stringify({ type: "ADDED", object: cm })}\n{"type":"BOOKMARK","object":{"metadata":`)
        response.write(`{"resourceVersion":"9"}}}\n`)
        response.end(
          `${JSON.stringify({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired", message: "too old" } })}\n`
        )
      })
      const kube = Context.get(yield* Layer.build(live(fake.url)), KubeClient)
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const exit = yield* kube
        .watch(Resource.ConfigMap, { namespace: "default", resourceVersion: "1", allowWatchBookmarks: true })
        .pipe(
          Stream.runForEach((e) =>
            Ref.update(seen, (s) => [
              ...s,
              e.type === "BOOKMARK" ? `BOOKMARK ${e.resourceVersion}` : `${e.type} ${e.object.metadata.name}`
            ])
          ),
          Effect.flip
        )
      expect(yield* Ref.get(seen)).toEqual(["ADDED a", "BOOKMARK 9"])
      expect(exit._tag).toBe("Gone")
    })
  )

  it.scoped("a token bucket limits requests (burst, then qps)", () =>
    Effect.gen(function* () {
      const fake = yield* fakeApiserver((_, response) =>
        json(response, 200, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "default" } })
      )
      const kube = Context.get(yield* Layer.build(live(fake.url, { qps: 10, burst: 2 })), KubeClient)
      const all = yield* Effect.fork(
        Effect.all(
          Array.from({ length: 4 }, () => kube.get(Resource.ConfigMap, "x", { namespace: "default" })),
          {
            concurrency: "unbounded"
          }
        )
      )
      yield* io
      expect(fake.hits()).toBe(2)
      yield* TestClock.adjust("100 millis")
      yield* io
      expect(fake.hits()).toBe(3)
      yield* TestClock.adjust("100 millis")
      yield* io
      expect(fake.hits()).toBe(4)
      expect(yield* Fiber.join(all)).toHaveLength(4)
    })
  )
})

describe("Schema-typed resources", () => {
  const Widget = Schema.Struct({
    apiVersion: Schema.Literal("example.com/v1"),
    kind: Schema.Literal("Widget"),
    metadata: Schema.Struct({ name: Schema.String, namespace: Schema.optional(Schema.String) }),
    spec: Schema.Struct({ size: Schema.Number })
  })
  const Widgets = Resource.make({
    group: "example.com",
    version: "v1",
    kind: "Widget",
    plural: "widgets",
    namespaced: true,
    schema: Widget as unknown as Schema.Schema<typeof Widget.Type & KubeObject, KubeObject>
  })

  it.effect("objects are decoded on the way in; a mismatch is a DecodeError naming the field", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const created = yield* kube.create(Widgets, {
        apiVersion: "example.com/v1",
        kind: "Widget",
        metadata: { name: "w", namespace: "default" },
        spec: { size: 3 }
      })
      expect(created.spec.size).toBe(3)
      yield* kube.create(Resource.make({ ...Widgets, schema: undefined as never }), {
        apiVersion: "example.com/v1",
        kind: "Widget",
        metadata: { name: "bad", namespace: "default" },
        spec: { size: "three" }
      })
      const error = yield* Effect.flip(kube.get(Widgets, "bad", { namespace: "default" }))
      expect(error._tag).toBe("DecodeError")
      expect(error.message).toContain("size")
      const listed = yield* Effect.flip(kube.list(Widgets, { namespace: "default" }))
      expect(listed._tag).toBe("DecodeError")
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )
})
