/**
 * A KubeClient that counts its requests by verb and resource in the metrics registry
 * (`convex_operator_api_requests_total{verb,resource}`), so the cost of a steady state is visible on `/metrics`:
 * write verbs (POST, PUT, PATCH, DELETE) stay flat while nothing changes.
 *
 * @module
 */
import { KubeClient, type KubeClientService, Metrics, type ResourceType } from "@convex-operator/k8s"
import { Effect, Layer, Stream } from "effect"

export const requestsMetric = "convex_operator_api_requests_total"

/** Wraps the KubeClient in context with request counting. */
export const countingKubeClient: Layer.Layer<KubeClient, never, KubeClient> = Layer.effect(
  KubeClient,
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const registry = yield* Metrics.registry
    const counter = registry.counter(
      requestsMetric,
      "Requests the operator sent to the Kubernetes API, by verb and resource"
    )
    const count = (verb: string, resource: ResourceType) =>
      counter.inc({ verb, resource: resource.group === "" ? resource.plural : `${resource.plural}.${resource.group}` })
    const counted = <A, E, R>(verb: string, resource: ResourceType, effect: Effect.Effect<A, E, R>) =>
      Effect.zipRight(
        Effect.sync(() => count(verb, resource)),
        effect
      )
    const service: KubeClientService = {
      get: (resource, name, options) => counted("GET", resource, kube.get(resource, name, options)),
      list: (resource, options) => counted("LIST", resource, kube.list(resource, options)),
      listAll: (resource, options) => counted("LIST", resource, kube.listAll(resource, options)),
      watch: (resource, options) =>
        Stream.unwrap(Effect.sync(() => count("WATCH", resource)).pipe(Effect.as(kube.watch(resource, options)))),
      create: (resource, object, options) => counted("POST", resource, kube.create(resource, object, options)),
      replace: (resource, object, options) => counted("PUT", resource, kube.replace(resource, object, options)),
      apply: (resource, object, options) => counted("PATCH", resource, kube.apply(resource, object, options)),
      patch: (resource, name, patch, options) => counted("PATCH", resource, kube.patch(resource, name, patch, options)),
      patchStatus: (resource, name, status, options) =>
        counted("PATCH", resource, kube.patchStatus(resource, name, status, options)),
      delete: (resource, name, options) => counted("DELETE", resource, kube.delete(resource, name, options))
    }
    return service
  })
)
