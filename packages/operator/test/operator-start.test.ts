/**
 * Starting the operator on the in-memory apiserver, with the events in the order a loaded machine can give them:
 * the instances are listed (and triggered) while the cache is still asking whether Gateway API is installed. The
 * triggered instance must still be reconciled (an operator restarted mid-upgrade otherwise sat still until the
 * instance next changed).
 */
import { SecretGenerator } from "@convex-operator/core"
import { EventRecorder, KubeClient, type KubeObject, MemoryApiServer, NotFound } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import { startOperator } from "../src/app/operator.js"
import { finalizerName } from "../src/controllers/instance/finalizer.js"
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

      // The instances are listed and the watch is open (so their InitDone has triggered "demo"); the queue has had
      // every chance to run it.
      for (let i = 0; i < 500; i++) {
        if ((yield* server.requests).includes(`WATCH convexinstances ${namespace}`)) break
        yield* Effect.yieldNow()
      }
      expect(yield* server.requests).toContain(`WATCH convexinstances ${namespace}`)
      expect(gatewayAsked).toBe(true)
      yield* settle

      yield* Deferred.succeed(gatewayAnswer, undefined)
      const operator = yield* Fiber.join(starting)
      yield* operator.ready
      yield* settle

      // Nothing changed since the trigger: only that trigger can have made it reconcile.
      const instance = yield* kube.get(ConvexInstances, "demo", { namespace })
      expect(instance.metadata.finalizers ?? []).toContain(finalizerName)
      expect(instance.status).toBeDefined()
    }).pipe(Effect.provide(layers))
  )
})
