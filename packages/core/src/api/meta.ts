/**
 * The parts of Kubernetes object metadata that the operator reads. Unknown keys are ignored when decoding.
 *
 * @module
 */
import { Schema } from "effect"
import { optional } from "./annotations.js"

export const OwnerReference = Schema.Struct({
  apiVersion: Schema.String,
  kind: Schema.String,
  name: Schema.String,
  uid: Schema.String,
  controller: optional(Schema.Boolean),
  blockOwnerDeletion: optional(Schema.Boolean)
})
export type OwnerReference = typeof OwnerReference.Type

const StringMap = Schema.Record({ key: Schema.String, value: Schema.String })

export const ObjectMeta = Schema.Struct({
  name: optional(Schema.String),
  generateName: optional(Schema.String),
  namespace: optional(Schema.String),
  uid: optional(Schema.String),
  resourceVersion: optional(Schema.String),
  generation: optional(Schema.Number),
  creationTimestamp: optional(Schema.String),
  deletionTimestamp: optional(Schema.String),
  labels: optional(StringMap),
  annotations: optional(StringMap),
  finalizers: optional(Schema.Array(Schema.String)),
  ownerReferences: optional(Schema.Array(OwnerReference))
})
export type ObjectMeta = typeof ObjectMeta.Type
