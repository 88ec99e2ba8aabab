/**
 * The reconcile context's `scope`: the scope of the primary's fiber. Work a reconcile forks into it outlives the
 * reconcile (the next reconcile of the same primary finds it running) and is interrupted when the primary is deleted.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, type Fiber, Layer, Ref } from "effect"
import { Action, Controller, KubeClient, type KubeObject, Metrics } from "../src/index.js"
import { Gizmo } from "./contract/harness.js"

const settle = Effect.repeatN(Effect.yieldNow(), 100)
const layer = Layer.mergeAll(KubeClient.layerMemory(), Metrics.Metrics.layer)

const gizmo = (name: string, spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: Gizmo.apiVersion,
  kind: Gizmo.kind,
  metadata: { name, namespace: "default" },
  spec
})

describe("Controller key scope", () => {
  it.scoped("work forked into a primary's scope lives across its reconciles and ends with the primary", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const forked = yield* Ref.make<ReadonlyArray<Fiber.RuntimeFiber<never>>>([])
      const reconciles = yield* Ref.make(0)
      yield* Controller.make({
        name: "key-scope",
        resource: Gizmo,
        resyncPeriod: false,
        reconcile: (_, context) =>
          Effect.gen(function* () {
            yield* Ref.update(reconciles, (n) => n + 1)
            // Forked once, by the first reconcile: later ones find it alive.
            if ((yield* Ref.get(forked)).length === 0) {
              const fiber = yield* Effect.forkIn(Effect.never, context.scope)
              yield* Ref.set(forked, [fiber])
            }
            return Action.awaitChange
          })
      })
      yield* kube.create(Gizmo, gizmo("saga"))
      yield* settle
      const [fiber] = yield* Ref.get(forked)
      expect(fiber).toBeDefined()

      // Another reconcile of the same primary: the forked work still runs.
      yield* kube.replace(Gizmo, { ...(yield* kube.get(Gizmo, "saga", { namespace: "default" })), spec: { n: 1 } })
      yield* settle
      expect(yield* Ref.get(reconciles)).toBeGreaterThanOrEqual(2)
      expect(fiber?.unsafePoll()).toBeNull()

      // The primary deleted: its scope closes and the forked work is interrupted.
      yield* kube.delete(Gizmo, "saga", { namespace: "default" })
      yield* settle
      const exit = fiber?.unsafePoll()
      expect(exit?._tag).toBe("Failure")
    }).pipe(Effect.provide(layer))
  )
})
