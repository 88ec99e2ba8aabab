import {
  InstanceSecret,
  instanceSecretBytes,
  instanceSecretFromBytes,
  instanceSecretProblem,
  isValidInstanceSecret
} from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck, ParseResult, Schema } from "effect"

const secret = "4361726e697461732c206c69746572616c6c79206d65616e696e6720226c6974"

describe("instance secret", () => {
  it("is 32 bytes written as 64 lower-case hex characters", () => {
    const bytes = Uint8Array.from({ length: 32 }, (_, i) => i * 8)
    const hex = Either.getOrThrow(instanceSecretFromBytes(bytes))
    expect(hex).toBe("0008101820283038404850586068707880889098a0a8b0b8c0c8d0d8e0e8f0f8")
    expect(Either.getOrThrow(instanceSecretBytes(hex))).toEqual(bytes)
  })

  it("must be made of exactly 32 bytes", () => {
    const error = Either.flip(instanceSecretFromBytes(new Uint8Array(16)))
    expect(Either.getOrThrow(error).message).toContain("16 bytes instead of 32")
  })

  it("accepts upper-case hex, as Convex's hex decoding does", () => {
    expect(isValidInstanceSecret(secret.toUpperCase())).toBe(true)
    expect(Either.getOrThrow(instanceSecretBytes(secret.toUpperCase()))).toEqual(
      Either.getOrThrow(instanceSecretBytes(secret))
    )
  })

  it.each([
    ["", "is empty"],
    [`${secret}\n`, "whitespace"],
    [secret.slice(2), "62 characters instead of 64"],
    [`${secret}00`, "66 characters instead of 64"],
    [`${secret.slice(0, 10)}x${secret.slice(11)}`, "not hex (0-9, a-f) at position 11"]
  ])("names the problem without the value: %#", (value, problem) => {
    expect(isValidInstanceSecret(value)).toBe(false)
    expect(instanceSecretProblem(value)).toContain(problem)
    const error = Either.getOrThrow(Either.flip(instanceSecretBytes(value)))
    expect(error._tag).toBe("InvalidInstanceSecret")
    expect(error.message).toContain(problem)
    if (value.length > 8) expect(error.message).not.toContain(value.slice(0, 8))
  })

  it("the Schema decodes valid secrets and reports invalid ones without the value", () => {
    expect(Schema.decodeUnknownSync(InstanceSecret)(secret)).toBe(secret)
    const bad = `${secret.slice(0, 63)}z`
    const result = Schema.decodeUnknownEither(InstanceSecret)(bad)
    const message = Either.match(result, { onLeft: ParseResult.TreeFormatter.formatErrorSync, onRight: () => "" })
    expect(message).toContain("position 64")
    expect(message).not.toContain(bad.slice(0, 8))
    const notString = Schema.decodeUnknownEither(InstanceSecret)(42)
    expect(Either.isLeft(notString)).toBe(true)
  })

  it.prop("the Schema's arbitrary gives valid secrets", [Arbitrary.make(InstanceSecret)], ([value]) => {
    expect(isValidInstanceSecret(value)).toBe(true)
    expect(Either.getOrThrow(instanceSecretBytes(value)).length).toBe(32)
  })

  it.prop("bytes → hex → bytes", [FastCheck.uint8Array({ minLength: 32, maxLength: 32 })], ([bytes]) => {
    const hex = Either.getOrThrow(instanceSecretFromBytes(bytes))
    expect(hex).toMatch(/^[0-9a-f]{64}$/)
    expect(Either.getOrThrow(instanceSecretBytes(hex))).toEqual(bytes)
  })
})
