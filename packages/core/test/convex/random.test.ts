import {
  decodeAdminKey,
  generateInstanceSecret,
  issueAdminKeyWith,
  isValidInstanceSecret,
  SecretGenerator,
  verifyAdminKey
} from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, TestClock } from "effect"

const draw = (n: number) => Effect.flatMap(SecretGenerator, (generator) => generator.bytes(n))

describe("SecretGenerator", () => {
  it.effect("layerTest is reproducible for a seed and differs between seeds", () =>
    Effect.gen(function* () {
      const run = (seed: number) => Effect.provide(Effect.all([draw(8), draw(8)]), SecretGenerator.layerTest(seed))
      const [a1, a2] = yield* run(1)
      const [b1, b2] = yield* run(1)
      const [c1] = yield* run(2)
      expect(a1).toEqual(b1)
      expect(a2).toEqual(b2)
      expect(a1).not.toEqual(a2)
      expect(a1).not.toEqual(c1)
    })
  )

  it.effect("layerLive gives the requested number of bytes, beyond one getRandomValues call", () =>
    Effect.gen(function* () {
      const [small, large] = yield* Effect.all([draw(0), draw(70_000)])
      expect(small.length).toBe(0)
      expect(large.length).toBe(70_000)
      // 70 000 random bytes are not all zero past the first 65 536.
      expect(large.subarray(65_536).some((b) => b !== 0)).toBe(true)
    }).pipe(Effect.provide(SecretGenerator.layerLive))
  )

  it.effect("a negative or fractional length is a defect", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(draw(-1))
      expect(Exit.isFailure(exit) && !Exit.isInterrupted(exit)).toBe(true)
      expect(Exit.isFailure(yield* Effect.exit(draw(1.5)))).toBe(true)
    }).pipe(Effect.provide(SecretGenerator.layerTest()))
  )
})

describe("generateInstanceSecret", () => {
  it.effect("gives 64 lower-case hex characters, the same for the same seed", () =>
    Effect.gen(function* () {
      const a = yield* Effect.provide(generateInstanceSecret, SecretGenerator.layerTest(7))
      const b = yield* Effect.provide(generateInstanceSecret, SecretGenerator.layerTest(7))
      const live = yield* Effect.provide(generateInstanceSecret, SecretGenerator.layerLive)
      expect(a).toMatch(/^[0-9a-f]{64}$/)
      expect(a).toBe(b)
      expect(isValidInstanceSecret(live)).toBe(true)
      expect(live).not.toBe(a)
    })
  )
})

describe("issueAdminKeyWith", () => {
  it.effect("takes the time of issue from the Clock and the nonce from the generator", () =>
    Effect.gen(function* () {
      const instanceSecret = yield* generateInstanceSecret
      yield* TestClock.setTime(1_700_000_000_999)
      const key = yield* issueAdminKeyWith({ instanceName: "carnitas", instanceSecret })
      expect(verifyAdminKey(key, "carnitas", instanceSecret)).toBe(true)
      expect(Either.getOrThrow(decodeAdminKey(key, instanceSecret))).toEqual({
        instanceName: "carnitas",
        issuedAt: 1_700_000_000n,
        memberId: 0n,
        readOnly: false
      })
      yield* TestClock.adjust("90 seconds")
      const later = yield* issueAdminKeyWith({ instanceName: "carnitas", instanceSecret, readOnly: true, memberId: 3 })
      expect(Either.getOrThrow(decodeAdminKey(later, instanceSecret))).toMatchObject({
        issuedAt: 1_700_000_090n,
        memberId: 3n,
        readOnly: true
      })
    }).pipe(Effect.provide(SecretGenerator.layerTest(42)))
  )

  it.effect("is reproducible under TestClock and layerTest", () =>
    Effect.gen(function* () {
      const issue = Effect.gen(function* () {
        yield* TestClock.setTime(1_751_819_444_000)
        const instanceSecret = yield* generateInstanceSecret
        return yield* issueAdminKeyWith({ instanceName: "tacos", instanceSecret })
      })
      const a = yield* Effect.provide(issue, SecretGenerator.layerTest(3))
      const b = yield* Effect.provide(issue, SecretGenerator.layerTest(3))
      expect(a).toBe(b)
    })
  )

  it.effect("fails at second 0, where TestClock starts, because Convex rejects such a key", () =>
    Effect.gen(function* () {
      const instanceSecret = yield* generateInstanceSecret
      const error = yield* Effect.flip(issueAdminKeyWith({ instanceName: "carnitas", instanceSecret }))
      expect(error).toMatchObject({ _tag: "InvalidAdminKeyRequest", field: "issuedAt" })
    }).pipe(Effect.provide(SecretGenerator.layerTest()))
  )

  it.effect("fails with InvalidInstanceSecret for a bad secret", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(1_000_000)
      const error = yield* Effect.flip(issueAdminKeyWith({ instanceName: "carnitas", instanceSecret: "nope" }))
      expect(error._tag).toBe("InvalidInstanceSecret")
    }).pipe(Effect.provide(SecretGenerator.layerTest()))
  )
})
