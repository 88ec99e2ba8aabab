/**
 * Starting the operator on the in-memory apiserver while the answer to "is Gateway API installed?" is slow: an
 * instance that exists at start must be reconciled once the answer is in (an operator restarted mid-upgrade once sat
 * still until the instance next changed, when its trigger came before its cache existed). The controller now asks
 * for its optional kinds before it opens any watch, so no reconcile sees an unanswered check.
 */
import { SecretGenerator } from "@convex-operator/core"
import { EventRecorder, KubeClient, type KubeObject, MemoryApiServer, NotFound, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import { startOperator } from "../src/app/operator.js"
import { ConvexInstances } from "../src/shell/resources.js"

const namespace = "apps"
const layers = Layer.mergeAll(KubeClient.layerMemory(), EventRecorder.layerTest, SecretGenerator.layerTest(7))
const settle = Effect.repeatN(Effect.yieldNow(), 200)

describe("startOperator", () => {
  it.scoped("reconciles an instance listed before its cache has finished starting", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const server = yield* MemoryApiServer
      yield* kube.create(ConvexInstances, {
        apiVersion: "convex.icod.de/v1alpha1",
        kind: "ConvexInstance",
        metadata: { name: "demo", namespace },
        spec: { environment: "dev", version: "1111111111111111111111111111111111111111" }
      } as KubeObject)

      // The Gateway API check answers only when the test says so: not installed (a relist of instances would
      // otherwise trigger them again once Gateway API is found).
      const gatewayAnswer = yield* Deferred.make<void>()
      let gatewayAsked = false
      const slowGatewayCheck: typeof kube = {
        ...kube,
        list: (resource, options) =>
          resource.kind === "Gateway"
            ? Effect.suspend(() => {
                gatewayAsked = true
                return Effect.zipRight(
                  Deferred.await(gatewayAnswer),
                  new NotFound({
                    request: `LIST ${resource.plural}`,
                    message: "the server could not find the resource"
                  })
                )
              })
            : kube.list(resource, options)
      }
      const starting = yield* startOperator({
        namespaces: [namespace],
        concurrency: 2,
        settings: { operatorImage: "x" }
      }).pipe(Effect.provideService(KubeClient, slowGatewayCheck), Effect.forkScoped)

      // The check is asked and unanswered: nothing is reconciled meanwhile.
      for (let i = 0; i < 500 && !gatewayAsked; i++) yield* Effect.yieldNow()
      expect(gatewayAsked).toBe(true)
      yield* settle
      expect(
        (yield* server.requests).filter((request) => request.startsWith("PATCH") || request.startsWith("APPLY"))
      ).toEqual([])

      yield* Deferred.succeed(gatewayAnswer, undefined)
      const operator = yield* Fiber.join(starting)
      yield* operator.ready
      yield* settle

      // Nothing changed since the trigger: only that trigger can have made it reconcile.
      const instance = yield* kube.get(ConvexInstances, "demo", { namespace })
      expect(yield* kube.get(Resource.StatefulSet, "demo-backend", { namespace })).toBeDefined()
      expect(instance.status).toBeDefined()
    }).pipe(Effect.provide(layers))
  )
})
