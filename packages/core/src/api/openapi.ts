/**
 * Turns an Effect Schema into a structural OpenAPI v3 schema for a CustomResourceDefinition.
 *
 * Effect's own `JSONSchema.make` targets JSON Schema draft-07 (with `$ref`/`$defs`, `const`, `oneOf`), drops
 * defaults that live in transformations, and knows nothing of the `x-kubernetes-*` extensions; structural CRD
 * schemas need none of the first and all of the rest, so this walker over `SchemaAST` is our own.
 * It describes the *encoded* side of a schema: what a user writes in a manifest.
 *
 * @module
 */
import { Option, type Schema, SchemaAST } from "effect"
import { CrdDefaultId, CrdExtraId, CrdReplaceId, DocId } from "./annotations.js"
import type { OpenApiSchema } from "./openapi-types.js"

/** Raised when a schema uses a shape that a structural CRD schema cannot express. */
export class UnsupportedSchemaError extends Error {
  override readonly name = "UnsupportedSchemaError"
}

/** Keywords of Effect's JSON Schema annotations that are also valid in a structural CRD schema. */
const portableKeywords = new Set([
  "type",
  "format",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties"
])

type Mutable = { -readonly [K in keyof OpenApiSchema]: OpenApiSchema[K] }

const annotation = <A>(ast: SchemaAST.Annotated, id: symbol): A | undefined =>
  Option.getOrUndefined(SchemaAST.getAnnotation<A>(ast, id))

const portable = (jsonSchema: object | undefined): OpenApiSchema => {
  const out: Record<string, unknown> = {}
  if (jsonSchema === undefined) return out
  for (const [key, value] of Object.entries(jsonSchema)) {
    if (portableKeywords.has(key)) out[key] = value
  }
  return out
}

const literalType = (value: SchemaAST.LiteralValue): NonNullable<OpenApiSchema["type"]> => {
  switch (typeof value) {
    case "string":
      return "string"
    case "boolean":
      return "boolean"
    case "number":
      return Number.isInteger(value) ? "integer" : "number"
    default:
      throw new UnsupportedSchemaError(`literal ${String(value)} has no CRD type`)
  }
}

const isUndefined = (ast: SchemaAST.AST) => ast._tag === "UndefinedKeyword"

const fromTypeLiteral = (ast: SchemaAST.TypeLiteral, path: string): OpenApiSchema => {
  const node: Mutable = { type: "object" }
  if (ast.propertySignatures.length > 0) {
    const properties: Record<string, OpenApiSchema> = {}
    const required: Array<string> = []
    for (const ps of ast.propertySignatures) {
      if (typeof ps.name !== "string") throw new UnsupportedSchemaError(`${path}: symbol keys have no CRD form`)
      properties[ps.name] = walk(ps.type, `${path}.${ps.name}`)
      if (!ps.isOptional) required.push(ps.name)
    }
    node.properties = properties
    if (required.length > 0) node.required = required
  }
  if (ast.indexSignatures.length > 1) throw new UnsupportedSchemaError(`${path}: several index signatures`)
  const index = ast.indexSignatures[0]
  if (index !== undefined) {
    if (ast.propertySignatures.length > 0) {
      throw new UnsupportedSchemaError(`${path}: properties and additionalProperties cannot be mixed in a CRD`)
    }
    node.additionalProperties = walk(index.type, `${path}[*]`)
  }
  return node
}

const fromUnion = (ast: SchemaAST.Union, path: string): OpenApiSchema => {
  const members = ast.types.filter((member) => !isUndefined(member))
  const [only] = members
  if (members.length === 1 && only !== undefined) return walk(only, path)
  if (members.every(SchemaAST.isLiteral)) {
    const values = members.map((member) => member.literal)
    const types = new Set(values.map(literalType))
    if (types.size !== 1) throw new UnsupportedSchemaError(`${path}: an enum must have one type`)
    return { type: [...types][0]!, enum: values }
  }
  throw new UnsupportedSchemaError(`${path}: a union needs a CrdReplace annotation (e.g. int-or-string)`)
}

const fromTuple = (ast: SchemaAST.TupleType, path: string): OpenApiSchema => {
  const [rest] = ast.rest
  if (ast.elements.length > 0 || rest === undefined || ast.rest.length > 1) {
    throw new UnsupportedSchemaError(`${path}: only homogeneous arrays have a CRD form`)
  }
  return { type: "array", items: walk(rest.type, `${path}[]`) }
}

const structural = (ast: SchemaAST.AST, path: string): OpenApiSchema => {
  switch (ast._tag) {
    case "StringKeyword":
      return { type: "string" }
    case "NumberKeyword":
      return { type: "number" }
    case "BooleanKeyword":
      return { type: "boolean" }
    case "Literal":
      return { type: literalType(ast.literal), enum: [ast.literal] }
    case "Enums":
      return { type: "string", enum: ast.enums.map(([, value]) => value) }
    case "TypeLiteral":
      return fromTypeLiteral(ast, path)
    case "Union":
      return fromUnion(ast, path)
    case "TupleType":
      return fromTuple(ast, path)
    case "Refinement":
      return { ...walk(ast.from, path), ...portable(annotation<object>(ast, SchemaAST.JSONSchemaAnnotationId)) }
    case "Transformation":
      return walk(ast.from, path)
    case "Suspend":
      throw new UnsupportedSchemaError(`${path}: recursive schemas have no CRD form`)
    default:
      throw new UnsupportedSchemaError(`${path}: ${ast._tag} has no CRD form`)
  }
}

const walk = (ast: SchemaAST.AST, path: string): OpenApiSchema => {
  const replaced = annotation<OpenApiSchema>(ast, CrdReplaceId)
  const node: Mutable = { ...(replaced ?? structural(ast, path)) }
  const extra = annotation<OpenApiSchema>(ast, CrdExtraId)
  if (extra !== undefined) {
    for (const [key, value] of Object.entries(extra) as Array<[keyof Mutable, never]>) {
      if (key === "x-kubernetes-validations" && node[key] !== undefined) {
        node[key] = [...node[key], ...(value as ReadonlyArray<never>)]
      } else {
        node[key] = value
      }
    }
  }
  const description = annotation<string>(ast, DocId)
  if (description !== undefined) node.description = description
  const defaultValue = annotation<unknown>(ast, CrdDefaultId)
  if (defaultValue !== undefined) node.default = defaultValue
  return order(node)
}

/** Keyword order in the emitted YAML: stable and close to what controller-gen writes. */
const keywordOrder: ReadonlyArray<keyof OpenApiSchema> = [
  "description",
  "type",
  "format",
  "default",
  "enum",
  "anyOf",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "items",
  "properties",
  "additionalProperties",
  "required",
  "nullable",
  "x-kubernetes-int-or-string",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-validations"
]

const order = (node: Mutable): OpenApiSchema => {
  const out: Record<string, unknown> = {}
  for (const key of keywordOrder) if (node[key] !== undefined) out[key] = node[key]
  return out
}

/** The structural OpenAPI v3 schema of what a manifest may contain for `schema`. */
export const toOpenApi = (schema: Schema.Schema.AnyNoContext): OpenApiSchema => walk(schema.ast, "")
