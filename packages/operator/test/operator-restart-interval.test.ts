/**
 * `maintenance.restartInterval` through the whole operator on the in-memory apiserver: once the instance is Ready,
 * nothing happens until the interval has passed on the TestClock, and then the instance's restart saga fiber
 * (sagas/restart.ts) wakes by its own timer (no reconcile called by the test, no change made) and proposes the
 * restart, which the reconcile it wakes journals and makes: the pod template gets the restart annotation and
 * `status.lastRestartTime` says when. The next interval counts from there, on the same fiber.
 */
import { restartedAtAnnotation } from "@convex-operator/core/internal"
import { KubeClient, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import {
  getInstance,
  layers,
  namespace,
  readyInstance,
  requestCount,
  requestsSince,
  runOperator,
  settle,
  statusOf,
  until,
  untilReady,
  wholeOperatorTimeout
} from "./support/operator-harness.js"

const restartedAt = Effect.gen(function* () {
  const kube = yield* KubeClient
  const backend = yield* kube.get(Resource.StatefulSet, "demo-backend", { namespace })
  const template = (backend.spec as { template: { metadata?: { annotations?: Record<string, string> } } }).template
  return template.metadata?.annotations?.[restartedAtAnnotation]
})

describe("the operator and maintenance.restartInterval", () => {
  it.scoped(
    "restarts the backend when the interval has passed on the clock, by its own timer",
    () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(Date.parse("2026-03-01T00:00:00Z"))
        const reconciles: Array<string> = []
        const operator = yield* runOperator(reconciles)
        yield* readyInstance("demo", { maintenance: { restartInterval: "1h" } })
        yield* settle
        expect(yield* restartedAt).toBeUndefined()
        expect(operator.sagas("restartMove")).toEqual(["apps/demo"])
        const readyAt = Date.parse("2026-03-01T00:00:00Z")

        // Just short of the interval: no reconcile, not a request.
        const before = yield* requestCount
        reconciles.length = 0
        yield* TestClock.adjust("59 minutes")
        yield* settle
        yield* TestClock.adjust("59 seconds")
        yield* settle
        expect(yield* requestsSince(before)).toEqual([])
        expect(reconciles).toEqual([])
        expect(yield* restartedAt).toBeUndefined()

        // Past it: the saga's timer wakes the instance, whose reconcile restarts the backend.
        yield* TestClock.adjust("1 second")
        yield* until(
          "the restart annotation",
          Effect.map(restartedAt, (at) => at !== undefined)
        )
        const at = yield* restartedAt
        expect(Date.parse(at ?? "")).toBe(readyAt + 3_600_000)
        expect(statusOf(yield* getInstance("demo")).lastRestartTime).toBe(at)

        // The new pod comes up; the next restart an interval later, by the same fiber.
        yield* untilReady("demo")
        yield* settle
        yield* TestClock.adjust("1 hour")
        yield* until(
          "the second restart",
          Effect.map(restartedAt, (next) => next !== at)
        )
        expect(Date.parse((yield* restartedAt) ?? "")).toBe(readyAt + 2 * 3_600_000)
        expect(operator.sagas("restartMove")).toEqual(["apps/demo"])
      }).pipe(Effect.provide(layers)),
    wholeOperatorTimeout
  )
})
