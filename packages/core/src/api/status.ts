/**
 * `ConvexInstance.status`: what the operator observed and decided, written only by the operator.
 *
 * @module
 */
import { Schema } from "effect"
import { crdExtra, doc, optional } from "./annotations.js"
import { Condition } from "./kube.js"
import { Int64 } from "./primitives.js"

export const Phase = Schema.Literal("Pending", "Ready", "Error", "Upgrading")
export type Phase = typeof Phase.Type

export const InstanceEndpoints = Schema.Struct({
  apiUrl: optional(Schema.String.pipe(doc("URL of the Convex API (CONVEX_CLOUD_ORIGIN, or the in-cluster Service)."))),
  siteUrl: optional(Schema.String.pipe(doc("URL of HTTP actions (CONVEX_SITE_ORIGIN)."))),
  dashboardUrl: optional(Schema.String.pipe(doc("URL of the dashboard, when it has a public host.")))
})
export type InstanceEndpoints = typeof InstanceEndpoints.Type

export const ConvexInstanceStatus = Schema.Struct({
  phase: optional(Phase.pipe(doc("Coarse lifecycle: Pending, Ready, Error or Upgrading."))),
  upgradeHash: optional(Schema.String.pipe(doc("Hash of the last fully applied version and images."))),
  observedGeneration: optional(Int64.pipe(doc("The .metadata.generation this status describes."))),
  endpoints: optional(InstanceEndpoints.pipe(doc("Where clients reach this deployment."))),
  conditions: optional(
    Schema.Array(Condition).pipe(
      Schema.maxItems(64),
      crdExtra({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] }),
      doc("Current state: Ready plus one condition per part (SecretsReady, BackendReady, GatewayReady, …).")
    )
  )
}).pipe(doc("Observed state of the ConvexInstance."))
export type ConvexInstanceStatus = typeof ConvexInstanceStatus.Type
