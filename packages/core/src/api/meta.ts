/**
 * The parts of Kubernetes object metadata that the operator reads. Unknown keys are ignored when decoding.
 *
 * Unlike the fields of a spec, an optional metadata field may also hold `undefined` (`Schema.optional`, not exact):
 * that is the shape of `ObjectMeta` in `@convex-operator/k8s`, so an object read through the k8s client is a core
 * `KubeObject` as it is, without a cast. Core does not import k8s; the two types meet structurally.
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
  name: Schema.optional(Schema.String),
  generateName: Schema.optional(Schema.String),
  namespace: Schema.optional(Schema.String),
  uid: Schema.optional(Schema.String),
  resourceVersion: Schema.optional(Schema.String),
  generation: Schema.optional(Schema.Number),
  creationTimestamp: Schema.optional(Schema.String),
  deletionTimestamp: Schema.optional(Schema.String),
  labels: Schema.optional(StringMap),
  annotations: Schema.optional(StringMap),
  finalizers: Schema.optional(Schema.Array(Schema.String)),
  ownerReferences: Schema.optional(Schema.Array(OwnerReference))
})
export type ObjectMeta = typeof ObjectMeta.Type
