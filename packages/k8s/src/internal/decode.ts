import { Effect, ParseResult, Schema } from "effect"
import { DecodeError } from "../errors.js"
import type { KubeObject, Resource } from "../Resource.js"

/** Decodes an object with its Resource's Schema, if it has one. */
export const decodeObject = <A extends KubeObject>(
  resource: Resource<A>,
  request: string,
  object: unknown
): Effect.Effect<A, DecodeError> =>
  resource.schema === undefined
    ? Effect.succeed(object as A)
    : Schema.decodeUnknown(resource.schema)(object).pipe(
        Effect.mapError(
          (error) => new DecodeError({ request, message: ParseResult.TreeFormatter.formatErrorSync(error) })
        )
      )
