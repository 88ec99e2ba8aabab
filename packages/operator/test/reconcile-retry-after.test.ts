/**
 * The apiserver's priority and fairness rejects some of a reconcile's requests (429 with Retry-After): the
 * reconcile fails for a retry that carries the longest wait asked for, which the work queue honours (its contract
 * in packages/k8s/test/scheduler-contract.ts).
 */
import { fromStatus, KubeClient, type KubeObject, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeCache } from "../src/controllers/instance/cache.js"
import { InstanceCache } from "../src/controllers/instance/instance-cache.js"
import { reconcile } from "../src/controllers/instance/reconcile.js"
import { ConvexInstances } from "../src/shell/resources.js"
import { layers, namespace, settings, until, untilCached } from "./support/operator-harness.js"

const key = Resource.key(namespace, "demo")

const instance = {
  apiVersion: "convex.icod.de/v1alpha1",
  kind: "ConvexInstance",
  metadata: { name: "demo", namespace },
  spec: { environment: "dev", version: "1111111111111111111111111111111111111111" }
} as unknown as KubeObject

/** A client whose applies of the kinds in `waits` are rejected with 429 and that many seconds of Retry-After. */
const throttled = (kube: KubeClient["Type"], waits: Readonly<Record<string, number>>): KubeClient["Type"] => ({
  ...kube,
  apply: (resource, object, options) => {
    const kind = options.subresource === "status" ? `${object.kind}/status` : object.kind
    const seconds = waits[kind]
    return seconds === undefined
      ? kube.apply(resource, object, options)
      : Effect.fail(
          fromStatus(
            `PATCH ${resource.plural}/${object.metadata.name}`,
            429,
            { code: 429, reason: "TooManyRequests", message: "Too many requests, please try again later." },
            seconds * 1000
          )
        )
  }
})

describe("a reconcile whose requests are rejected with 429 and Retry-After", () => {
  it.scoped("fails for a retry that waits the longest Retry-After of its rejected requests", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      yield* kube.apply(ConvexInstances, instance, { fieldManager: "test", force: true })
      const cache = yield* makeCache({ namespace, trigger: () => Effect.void })
      yield* cache.ready
      yield* until("the instance", () => cache.instances.unsafeGet(key) !== undefined)
      const run = (waits: Readonly<Record<string, number>>) =>
        reconcile(key, settings).pipe(
          Effect.provideService(InstanceCache, cache),
          Effect.provideService(KubeClient, throttled(kube, waits)),
          Effect.flip
        )

      const children = yield* run({ StatefulSet: 2, Service: 1 })
      expect(children).toMatchObject({ _tag: "RetryableError", retryAfterMillis: 2000 })
      expect(children.message).toContain("StatefulSet demo-backend: ApiError")
      // The status write is rejected too and asks for longer: the longest wait wins.
      yield* untilCached(cache, "demo")
      const status = yield* run({ StatefulSet: 2, "ConvexInstance/status": 5 })
      expect(status).toMatchObject({ _tag: "RetryableError", retryAfterMillis: 5000 })
      // A failure without Retry-After carries no wait: the queue's backoff alone decides.
      yield* untilCached(cache, "demo")
      const other = yield* reconcile(key, settings).pipe(
        Effect.provideService(InstanceCache, cache),
        Effect.provideService(KubeClient, {
          ...kube,
          apply: (resource, object, options) =>
            object.kind === "StatefulSet"
              ? Effect.fail(fromStatus("PATCH statefulsets/demo-backend", 500, { code: 500, message: "etcd" }))
              : kube.apply(resource, object, options)
        }),
        Effect.flip
      )
      expect(other._tag).toBe("RetryableError")
      expect("retryAfterMillis" in other).toBe(false)
    }).pipe(Effect.provide(layers))
  )
})
