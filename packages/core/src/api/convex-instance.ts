/**
 * The `ConvexInstance` resource (`convex.icod.de/v1alpha1`): one Schema from which the TypeScript types,
 * decoding of objects read from the cluster, defaults, property-test arbitraries and the CRD are derived.
 *
 * @module
 */
import { Either, ParseResult, Schema } from "effect"
import { type CrossFieldRule, crossField, optional } from "./annotations.js"
import { ObjectMeta } from "./meta.js"
import { ConvexInstanceSpec } from "./spec.js"
import { ConvexInstanceStatus } from "./status.js"

export const group = "convex.icod.de"
export const version = "v1alpha1"
export const apiVersion = `${group}/${version}` as const
export const kind = "ConvexInstance"
export const plural = "convexinstances"
export const singular = "convexinstance"
export const shortNames: ReadonlyArray<string> = ["cvx"]
export const categories: ReadonlyArray<string> = ["convex"]

/**
 * The instance name prefixes the backend StatefulSet and the Services, so it must be a DNS-1035 label, short
 * enough for `<name>-backend` plus the StatefulSet's revision hash to fit in 63 characters.
 */
export const maxInstanceNameLength = 44
const instanceNamePattern = /^[a-z]([-a-z0-9]*[a-z0-9])?$/

const ConvexInstanceFields = Schema.Struct({
  apiVersion: Schema.Literal(apiVersion),
  kind: Schema.Literal(kind),
  metadata: ObjectMeta,
  spec: ConvexInstanceSpec,
  status: optional(ConvexInstanceStatus)
})

/** The rule on `metadata.name`, checked at admission (CEL at the CRD's root) and when decoding. */
export const instanceNameRule: CrossFieldRule<typeof ConvexInstanceFields.Type> = {
  check: ({ metadata: { name } }) =>
    name === undefined || (name.length <= maxInstanceNameLength && instanceNamePattern.test(name)),
  rule: `size(self.metadata.name) <= ${maxInstanceNameLength} && self.metadata.name.matches('${instanceNamePattern.source}')`,
  message:
    "metadata.name must start with a letter, hold only lower-case letters, digits and '-', and be at most " +
    `${maxInstanceNameLength} characters: it prefixes the backend StatefulSet and Services`,
  fieldPath: ".metadata.name"
}

export const ConvexInstance = crossField(ConvexInstanceFields, instanceNameRule).annotations({
  identifier: "ConvexInstance"
})
export type ConvexInstance = typeof ConvexInstance.Type
export type ConvexInstanceEncoded = typeof ConvexInstance.Encoded

/** One reason a value is not a valid ConvexInstance: the field path (`spec.backend.db.engine`) and what was expected. */
export interface FieldIssue {
  readonly path: string
  readonly message: string
}

/** A ConvexInstance (or part of one) that does not decode. `message` lists every field with its problem. */
export class InvalidConvexInstance extends Schema.TaggedError<InvalidConvexInstance>()("InvalidConvexInstance", {
  issues: Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String }))
}) {
  override get message(): string {
    return this.issues.map((issue) => `${issue.path || "<root>"}: ${issue.message}`).join("; ")
  }
}

/** Renders a path like `["spec", "backend", "env", 0, "name"]` as `spec.backend.env[0].name`. */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((out, key) => {
    if (typeof key === "number") return `${out}[${key}]`
    return out === "" ? String(key) : `${out}.${String(key)}`
  }, "")

const expectedActual = /^Expected (.+), actual (.+)$/s

/**
 * A failed union yields one issue per member at the same path (`Expected "dev"`, `Expected "prod"`); they are
 * merged into one (`Expected "dev" or "prod", actual "staging"`) so each field is named once.
 */
const mergeByPath = (issues: ReadonlyArray<FieldIssue>): ReadonlyArray<FieldIssue> => {
  const byPath = new Map<string, Array<string>>()
  for (const issue of issues) byPath.set(issue.path, [...(byPath.get(issue.path) ?? []), issue.message])
  return [...byPath].map(([path, messages]) => {
    const parts = messages.map((message) => expectedActual.exec(message))
    const actuals = new Set(parts.map((part) => part?.[2]))
    if (messages.length > 1 && parts.every((part) => part !== null) && actuals.size === 1) {
      return { path, message: `Expected ${parts.map((part) => part?.[1]).join(" or ")}, actual ${parts[0]?.[2]}` }
    }
    return { path, message: messages.join("; ") }
  })
}

const toInvalid =
  (prefix: ReadonlyArray<PropertyKey>) =>
  (error: ParseResult.ParseError): InvalidConvexInstance =>
    new InvalidConvexInstance({
      issues: mergeByPath(
        ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
          path: formatPath([...prefix, ...issue.path]),
          message: issue.message
        }))
      )
    })

/**
 * A decoder of any resource of this API group (or part of one) whose failures name every field like
 * {@link decodeConvexInstance}'s; `prefix` starts the issue paths (`["spec"]` for a spec alone).
 */
export const decoderOf =
  <A, I>(schema: Schema.Schema<A, I>, prefix: ReadonlyArray<PropertyKey> = []) =>
  (input: unknown): Either.Either<A, InvalidConvexInstance> =>
    Either.mapLeft(Schema.decodeUnknownEither(schema, { errors: "all" })(input), toInvalid(prefix))

/** Decodes an object read from the cluster (or a manifest), applying the Schema's defaults. */
export const decodeConvexInstance = decoderOf(ConvexInstance)

/** Decodes a spec alone; issue paths start at `spec`. */
export const decodeConvexInstanceSpec = decoderOf(ConvexInstanceSpec, ["spec"])

/** Encodes a ConvexInstance back to its manifest form. */
export const encodeConvexInstance = Schema.encodeSync(ConvexInstance)
