/**
 * Annotations that carry CRD-only facts on an Effect Schema, so that the CRD manifest can be derived
 * from the same Schema that types and decodes the resource.
 *
 * @module
 */
import { Schema } from "effect"
import type { OpenApiSchema, ValidationRule } from "./openapi-types.js"

/** Extra OpenAPI keywords merged into the node generated for the annotated schema. */
export const CrdExtraId: unique symbol = Symbol.for("@convex-operator/core/CrdExtra")
/** Replaces the node generated for the annotated schema (e.g. int-or-string unions). */
export const CrdReplaceId: unique symbol = Symbol.for("@convex-operator/core/CrdReplace")
/** The `default:` written into the CRD, in its encoded (manifest) form. */
export const CrdDefaultId: unique symbol = Symbol.for("@convex-operator/core/CrdDefault")
/** Field documentation written as `description:` into the CRD. */
export const DocId: unique symbol = Symbol.for("@convex-operator/core/Doc")

/** Documents a schema for the CRD (`description:`). */
export const doc =
  (text: string) =>
  <S extends Schema.Schema.Any>(self: S): S =>
    self.annotations({ [DocId]: text }) as S

/** Adds OpenAPI keywords to the generated CRD node. */
export const crdExtra =
  (extra: OpenApiSchema) =>
  <S extends Schema.Schema.Any>(self: S): S =>
    self.annotations({ [CrdExtraId]: extra }) as S

/**
 * A rule across several fields, stated twice: as CEL for admission (`x-kubernetes-validations` in the CRD) and as
 * a TypeScript predicate for decoding, so a spec the apiserver rejects never decodes and vice versa. Tests run both
 * forms on the same inputs.
 */
export interface CrossFieldRule<A> extends ValidationRule {
  readonly check: (self: A) => boolean
}

const fieldPathKeys = (fieldPath: string | undefined): ReadonlyArray<string> =>
  fieldPath === undefined ? [] : fieldPath.split(".").filter((key) => key !== "")

/** Adds cross-field rules to a schema: a decoding filter plus the same rules as CEL in the CRD. */
export const crossField = <A, I>(
  self: Schema.Schema<A, I>,
  ...rules: ReadonlyArray<NoInfer<CrossFieldRule<A>>>
): Schema.Schema<A, I> =>
  self.pipe(
    Schema.filter((value: A) =>
      rules.flatMap((rule) =>
        rule.check(value) ? [] : [{ path: fieldPathKeys(rule.fieldPath), message: rule.message }]
      )
    ),
    crdExtra({ "x-kubernetes-validations": rules.map(({ check: _check, ...cel }) => cel) })
  )

/**
 * An optional field with a default. The default is given in its encoded (manifest) form and decoded through the
 * field's own schema, so decoding a manifest without the field yields exactly what the apiserver stores.
 * The CRD gets the default with its nested defaults filled in (`{}` for `db` becomes `{engine: sqlite, …}`):
 * the apiserver checks CEL rules against a `default:` as written, without defaulting inside it.
 */
export const withDefault = <A, I>(schema: Schema.Schema<A, I>, encodedDefault: I) => {
  const decoded = Schema.decodeSync(schema)(encodedDefault)
  const annotated = schema.annotations({ [CrdDefaultId]: Schema.encodeSync(schema)(decoded) })
  return Schema.optionalWith(annotated, { default: () => decoded, exact: true })
}

/** An optional field that is absent (never `undefined`) when not set. */
export const optional = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(schema, { exact: true })
