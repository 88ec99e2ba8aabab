/**
 * The subset of the Kubernetes `JSONSchemaProps` (OpenAPI v3, structural) that CRD generation emits.
 *
 * @module
 */

/** A CEL validation rule (`x-kubernetes-validations` entry). */
export interface ValidationRule {
  readonly rule: string
  readonly message: string
  readonly fieldPath?: string
  readonly reason?: "FieldValueInvalid" | "FieldValueRequired" | "FieldValueForbidden" | "FieldValueDuplicate"
}

/** One node of a structural OpenAPI v3 schema as the apiserver accepts it in a CRD. */
export interface OpenApiSchema {
  readonly type?: "object" | "array" | "string" | "integer" | "number" | "boolean"
  readonly description?: string
  readonly format?: string
  readonly default?: unknown
  readonly enum?: ReadonlyArray<unknown>
  readonly pattern?: string
  readonly minLength?: number
  readonly maxLength?: number
  readonly minimum?: number
  readonly maximum?: number
  readonly minItems?: number
  readonly maxItems?: number
  readonly minProperties?: number
  readonly maxProperties?: number
  readonly properties?: Readonly<Record<string, OpenApiSchema>>
  readonly required?: ReadonlyArray<string>
  readonly additionalProperties?: OpenApiSchema | boolean
  readonly items?: OpenApiSchema
  readonly anyOf?: ReadonlyArray<OpenApiSchema>
  readonly nullable?: boolean
  readonly "x-kubernetes-int-or-string"?: boolean
  readonly "x-kubernetes-preserve-unknown-fields"?: boolean
  readonly "x-kubernetes-list-type"?: "atomic" | "set" | "map"
  readonly "x-kubernetes-list-map-keys"?: ReadonlyArray<string>
  readonly "x-kubernetes-map-type"?: "atomic" | "granular"
  readonly "x-kubernetes-validations"?: ReadonlyArray<ValidationRule>
}
