import { ConvexInstanceSpec, ConvexInstanceStatus } from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"

describe("encode then decode is the identity on valid values", () => {
  it.prop("spec", [ConvexInstanceSpec], ([spec]) => {
    const encoded = Schema.encodeSync(ConvexInstanceSpec)(spec)
    expect(Schema.decodeUnknownSync(ConvexInstanceSpec)(encoded)).toStrictEqual(spec)
  })

  it.prop("status", [ConvexInstanceStatus], ([status]) => {
    const encoded = Schema.encodeSync(ConvexInstanceStatus)(status)
    expect(Schema.decodeUnknownSync(ConvexInstanceStatus)(encoded)).toStrictEqual(status)
  })

  it.prop(
    "decoding a decoded spec's encoding changes nothing (defaults are idempotent)",
    [ConvexInstanceSpec],
    ([spec]) => {
      const once = Schema.encodeSync(ConvexInstanceSpec)(spec)
      const twice = Schema.encodeSync(ConvexInstanceSpec)(Schema.decodeUnknownSync(ConvexInstanceSpec)(once))
      expect(twice).toStrictEqual(once)
    }
  )
})
