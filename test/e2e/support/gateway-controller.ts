/**
 * A test-only stand-in for a Gateway API implementation (the way NGINX Gateway Fabric reports): every Gateway gets
 * `Accepted` and `Programmed` (and each listener `Accepted`, `Programmed`, `ResolvedRefs`) for its generation, every
 * HTTPRoute gets a parent status per parentRef with `Accepted` and `ResolvedRefs`. It polls, and writes a status only
 * when it differs, so it stays quiet in a steady state. Nothing here sends traffic to a data plane.
 *
 * Gateway classes named in `urlRewriteUnsupported` play an implementation without the (Extended) `URLRewrite`
 * filter: a route with one on such a Gateway gets `Accepted` False with reason `UnsupportedValue`, as Gateway API
 * prescribes for values an implementation does not support.
 */
import { Effect, Fiber } from "effect"
import type { Objects } from "../../cluster/objects.js"

export const controllerName = "e2e.convex.icod.de/gateway-controller"

interface GatewayObject {
  readonly metadata: { name?: string; namespace?: string; generation?: number }
  readonly spec?: { gatewayClassName?: string; listeners?: ReadonlyArray<{ name: string }> }
  readonly status?: unknown
}

interface RouteObject {
  readonly metadata: { name?: string; namespace?: string; generation?: number }
  readonly spec?: {
    parentRefs?: ReadonlyArray<Record<string, unknown>>
    rules?: ReadonlyArray<{ filters?: ReadonlyArray<{ type?: string }> }>
  }
  readonly status?: { parents?: ReadonlyArray<unknown> }
}

const condition = (type: string, reason: string, generation: number | undefined, since: string) => ({
  type,
  status: "True",
  reason,
  message: "",
  ...(generation === undefined ? {} : { observedGeneration: generation }),
  lastTransitionTime: since
})

/**
 * The desired condition types/reasons, comparing without timestamps and regardless of key order (the apiserver
 * answers a custom resource's keys sorted: compared in our order, every status differed, and each pass rewrote every
 * route with a new lastTransitionTime, which woke the operator for every instance once a second).
 */
const shape = (value: unknown): string =>
  JSON.stringify(value, (key, v) =>
    key === "lastTransitionTime"
      ? undefined
      : typeof v === "object" && v !== null && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v
  )

const gatewayStatus = (gateway: GatewayObject, since: string) => {
  const generation = gateway.metadata.generation
  return {
    conditions: [
      condition("Accepted", "Accepted", generation, since),
      condition("Programmed", "Programmed", generation, since)
    ],
    listeners: (gateway.spec?.listeners ?? []).map((listener) => ({
      name: listener.name,
      attachedRoutes: 0,
      supportedKinds: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }],
      conditions: [
        condition("Accepted", "Accepted", generation, since),
        condition("Programmed", "Programmed", generation, since),
        condition("ResolvedRefs", "ResolvedRefs", generation, since)
      ]
    }))
  }
}

const rewrites = (route: RouteObject) =>
  (route.spec?.rules ?? []).some((rule) => (rule.filters ?? []).some((filter) => filter.type === "URLRewrite"))

/** The status of a route; `refusesRewrite(parentRef)` says whether that parent lacks the URLRewrite filter. */
const routeStatus = (
  route: RouteObject,
  since: string,
  refusesRewrite: (parentRef: Record<string, unknown>) => boolean
) => ({
  parents: (route.spec?.parentRefs ?? []).map((parentRef) => ({
    parentRef,
    controllerName,
    conditions: [
      rewrites(route) && refusesRewrite(parentRef)
        ? {
            ...condition("Accepted", "UnsupportedValue", route.metadata.generation, since),
            status: "False",
            message: "this Gateway class does not support the URLRewrite filter"
          }
        : condition("Accepted", "Accepted", route.metadata.generation, since),
      condition("ResolvedRefs", "ResolvedRefs", route.metadata.generation, since)
    ]
  }))
})

/** One pass over every Gateway and HTTPRoute. */
const sync = (objects: Objects, urlRewriteUnsupported: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const since = new Date().toISOString().replace(/\.\d+Z$/, "Z")
    const patchStatus = (kind: string, metadata: GatewayObject["metadata"], status: unknown) =>
      Effect.gen(function* () {
        const path = yield* objects.objectPath(
          { apiVersion: "gateway.networking.k8s.io/v1", kind, namespace: metadata.namespace ?? "default" },
          metadata.name ?? ""
        )
        yield* objects.call(
          "PATCH",
          `${path}/status?fieldManager=${encodeURIComponent("e2e-gateway-controller")}`,
          { status },
          "application/merge-patch+json"
        )
      }).pipe(Effect.ignore)
    // The list is cluster-wide: no namespace in the ref means "default", so list per namespace we see.
    const namespaces = (yield* objects.list({ apiVersion: "v1", kind: "Namespace" })).map((ns) => ns.metadata.name)
    for (const namespace of namespaces) {
      if (namespace === undefined) continue
      const gateways = (yield* objects.list({
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "Gateway",
        namespace
      })) as unknown as ReadonlyArray<GatewayObject>
      for (const gateway of gateways) {
        const status = gatewayStatus(gateway, since)
        if (shape(status) !== shape(gateway.status ?? {})) yield* patchStatus("Gateway", gateway.metadata, status)
      }
      const routes = (yield* objects.list({
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        namespace
      })) as unknown as ReadonlyArray<RouteObject>
      const classes = new Map(gateways.map((gateway) => [gateway.metadata.name, gateway.spec?.gatewayClassName]))
      const refusesRewrite = (parentRef: Record<string, unknown>) =>
        (parentRef.namespace ?? namespace) === namespace &&
        urlRewriteUnsupported.includes(classes.get(String(parentRef.name)) ?? "")
      for (const route of routes) {
        const status = routeStatus(route, since, refusesRewrite)
        if (shape(status) !== shape(route.status ?? {})) yield* patchStatus("HTTPRoute", route.metadata, status)
      }
    }
  }).pipe(Effect.ignore)

/** Runs the fake gateway controller until the returned stop is called. */
export const startGatewayController = (
  objects: Objects,
  intervalMillis = 300,
  options: { readonly urlRewriteUnsupported?: ReadonlyArray<string> } = {}
): (() => Promise<void>) => {
  const fiber = Effect.runFork(
    Effect.forever(
      Effect.zipRight(sync(objects, options.urlRewriteUnsupported ?? []), Effect.sleep(`${intervalMillis} millis`))
    )
  )
  return () => Effect.runPromise(Fiber.interrupt(fiber)).then(() => undefined)
}
