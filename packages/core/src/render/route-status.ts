/**
 * Readiness of Gateway API objects, read from their status as the Gateway API defines it:
 * a Gateway is ready when `Accepted` and `Programmed` are True for its current generation (the `Ready` condition
 * is reserved and never set by implementations); a listener with `ResolvedRefs` False is waiting for its TLS
 * certificate; a route is ready when, for each of its parents, `Accepted` and `ResolvedRefs` are True.
 *
 * @module
 */
import { Option, Schema } from "effect"
import type { KubeObject, RouteParentRef } from "./objects.js"

const ApiCondition = Schema.Struct({
  type: Schema.String,
  status: Schema.String,
  reason: Schema.optionalWith(Schema.String, { exact: true }),
  message: Schema.optionalWith(Schema.String, { exact: true }),
  observedGeneration: Schema.optionalWith(Schema.Number, { exact: true })
})
type ApiCondition = typeof ApiCondition.Type
const Conditions = Schema.optionalWith(Schema.Array(ApiCondition), { exact: true })

const GatewayStatus = Schema.Struct({
  conditions: Conditions,
  listeners: Schema.optionalWith(Schema.Array(Schema.Struct({ name: Schema.String, conditions: Conditions })), {
    exact: true
  })
})

const RouteStatus = Schema.Struct({
  parents: Schema.optionalWith(
    Schema.Array(
      Schema.Struct({
        parentRef: Schema.Struct({
          name: Schema.String,
          namespace: Schema.optionalWith(Schema.String, { exact: true }),
          sectionName: Schema.optionalWith(Schema.String, { exact: true })
        }),
        controllerName: Schema.optionalWith(Schema.String, { exact: true }),
        conditions: Conditions
      })
    ),
    { exact: true }
  )
})

const decodeGateway = Schema.decodeUnknownOption(GatewayStatus)
const decodeRoute = Schema.decodeUnknownOption(RouteStatus)

/** The state of a Gateway or route. */
export type RoutingState =
  | { readonly _tag: "Ready" }
  | { readonly _tag: "Pending"; readonly message: string }
  | { readonly _tag: "WaitingForCertificate"; readonly message: string }
  | { readonly _tag: "Rejected"; readonly message: string }

const holds = (conditions: ReadonlyArray<ApiCondition> | undefined, type: string, generation: number | undefined) =>
  conditions?.some(
    (c) =>
      c.type === type &&
      c.status === "True" &&
      (generation === undefined || c.observedGeneration === undefined || c.observedGeneration >= generation)
  ) === true

const failing = (conditions: ReadonlyArray<ApiCondition> | undefined, type: string) =>
  conditions?.find((c) => c.type === type && c.status === "False")

const describe = (condition: ApiCondition): string =>
  `${condition.type}=False${condition.reason !== undefined ? ` (${condition.reason})` : ""}${
    condition.message !== undefined && condition.message !== "" ? `: ${condition.message}` : ""
  }`

/** The state of the operator's Gateway; `tlsSecret` names the certificate Secret, when TLS is on. */
export const gatewayState = (gateway: KubeObject | undefined, tlsSecret: string | undefined): RoutingState => {
  if (gateway === undefined) return { _tag: "Pending", message: "the Gateway does not exist yet" }
  const status = Option.getOrUndefined(decodeGateway(gateway.status ?? {}))
  const generation = gateway.metadata.generation
  const unresolved = status?.listeners?.find((listener) => failing(listener.conditions, "ResolvedRefs") !== undefined)
  if (unresolved !== undefined) {
    return {
      _tag: "WaitingForCertificate",
      message: `listener ${unresolved.name} waits for its TLS certificate${tlsSecret !== undefined ? ` (Secret "${tlsSecret}")` : ""}`
    }
  }
  const notAccepted = failing(status?.conditions, "Accepted")
  if (notAccepted !== undefined)
    return { _tag: "Rejected", message: `the Gateway is not accepted: ${describe(notAccepted)}` }
  if (!holds(status?.conditions, "Accepted", generation)) {
    return { _tag: "Pending", message: "waiting for the Gateway controller to accept the Gateway" }
  }
  if (!holds(status?.conditions, "Programmed", generation)) {
    return { _tag: "Pending", message: "waiting for the Gateway controller to program the Gateway" }
  }
  return { _tag: "Ready" }
}

/** The state of a route whose parents are `parents`, its own namespace being `namespace`. */
export const routeState = (
  route: KubeObject | undefined,
  parents: ReadonlyArray<RouteParentRef>,
  namespace: string
): RoutingState => {
  const name = route?.metadata.name ?? "route"
  if (route === undefined) return { _tag: "Pending", message: "the HTTPRoute does not exist yet" }
  const status = Option.getOrUndefined(decodeRoute(route.status ?? {}))
  for (const parent of parents) {
    const entry = status?.parents?.find(
      (candidate) =>
        candidate.parentRef.name === parent.name &&
        (candidate.parentRef.namespace ?? namespace) === (parent.namespace ?? namespace) &&
        candidate.parentRef.sectionName === parent.sectionName
    )
    const gateway = `Gateway ${parent.namespace ?? namespace}/${parent.name}`
    // A route still waiting is not named: while the Gateway controller answers an instance's routes one after
    // another, the message stays the same, so the instance's status is not rewritten for each of them.
    if (entry === undefined) {
      return { _tag: "Pending", message: `HTTPRoutes on ${gateway}: no status from the Gateway controller yet` }
    }
    const rejected = failing(entry.conditions, "Accepted") ?? failing(entry.conditions, "ResolvedRefs")
    if (rejected !== undefined)
      return { _tag: "Rejected", message: `HTTPRoute ${name} on ${gateway}: ${describe(rejected)}` }
    if (!holds(entry.conditions, "Accepted", undefined) || !holds(entry.conditions, "ResolvedRefs", undefined)) {
      return { _tag: "Pending", message: `HTTPRoutes on ${gateway}: not accepted yet` }
    }
  }
  return { _tag: "Ready" }
}

/** The controller name Envoy Gateway writes into the route status of the parents it serves. */
export const envoyGatewayController = "gateway.envoyproxy.io/gatewayclass-controller"

/**
 * What a Gateway controller said when it refused a route for a value it does not support (a parent's `Accepted`
 * False with reason `UnsupportedValue`, for the route's current generation), or undefined.
 *
 * Envoy Gateway counts as refusing too, though it accepts the route: for a `PathPrefix` "/" match it trims the
 * replacement's trailing slash and programs Envoy's `prefix_rewrite: /http`, so `/foo` reaches Convex as `/httpfoo`
 * (envoyproxy/gateway issue 6764, open for v1.9.1; its internal/xds/translator/route.go). No status says so, so the
 * controller's name in the parent status is the only sign.
 */
export const rewriteRejection = (route: KubeObject): string | undefined => {
  const status = Option.getOrUndefined(decodeRoute(route.status ?? {}))
  const generation = route.metadata.generation
  const current = (c: { readonly observedGeneration?: number | undefined }) =>
    generation === undefined || c.observedGeneration === undefined || c.observedGeneration >= generation
  for (const parent of status?.parents ?? []) {
    const refused = parent.conditions?.find(
      (c) => c.type === "Accepted" && c.status === "False" && c.reason === "UnsupportedValue" && current(c)
    )
    if (refused !== undefined) return `Gateway ${parent.parentRef.name}: ${describe(refused)}`
    if (parent.controllerName === envoyGatewayController && parent.conditions?.some((c) => current(c))) {
      return (
        `Gateway ${parent.parentRef.name}: Envoy Gateway rewrites a "/" prefix to "/http" without the slash ` +
        "(/foo reaches the backend as /httpfoo, envoyproxy/gateway issue 6764)"
      )
    }
  }
  return undefined
}
