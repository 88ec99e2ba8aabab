/**
 * Randomness for instance secrets and admin-key nonces, as a service so that tests are reproducible: the live
 * layer reads the platform's cryptographic random source, the test layer a seeded generator.
 *
 * @module
 */
import { Clock, Context, Effect, Layer } from "effect"
import { adminKeyNonceLength, issueAdminKey } from "./admin-key.js"
import { instanceSecretByteLength, instanceSecretFromBytes } from "./instance-secret.js"

// `crypto.getRandomValues` fills at most 65536 bytes per call.
const maxRandomChunk = 65536

const checkLength = (n: number): Effect.Effect<void> =>
  Number.isSafeInteger(n) && n >= 0
    ? Effect.void
    : Effect.die(new RangeError(`SecretGenerator.bytes: expected a non-negative whole number of bytes, got ${n}`))

/**
 * Mulberry32: a small 32-bit generator with a good distribution. Not cryptographically secure; used only by
 * `SecretGenerator.layerTest`.
 */
const mulberry32 = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}

/** The source of random bytes for instance secrets and admin-key nonces. */
export class SecretGenerator extends Context.Tag("@convex-operator/core/SecretGenerator")<
  SecretGenerator,
  {
    /** `n` random bytes. */
    readonly bytes: (n: number) => Effect.Effect<Uint8Array>
  }
>() {
  /** Cryptographically secure bytes from `globalThis.crypto.getRandomValues`. */
  static readonly layerLive: Layer.Layer<SecretGenerator> = Layer.succeed(
    SecretGenerator,
    SecretGenerator.of({
      bytes: (n) =>
        Effect.zipRight(
          checkLength(n),
          Effect.sync(() => {
            const out = new Uint8Array(n)
            for (let at = 0; at < n; at += maxRandomChunk) {
              globalThis.crypto.getRandomValues(out.subarray(at, Math.min(n, at + maxRandomChunk)))
            }
            return out
          })
        )
    })
  )

  /**
   * Deterministic bytes for tests: every build of the layer yields the same sequence for the same `seed`
   * (default 0). Not secure: never use it outside tests.
   */
  static readonly layerTest = (seed = 0): Layer.Layer<SecretGenerator> =>
    Layer.sync(SecretGenerator, () => {
      const next = mulberry32(seed)
      return SecretGenerator.of({
        bytes: (n) =>
          Effect.zipRight(
            checkLength(n),
            Effect.sync(() => {
              const out = new Uint8Array(n)
              for (let i = 0; i < n; i++) out[i] = next() & 0xff
              return out
            })
          )
      })
    })
}

/** A fresh instance secret: 32 bytes from the `SecretGenerator` as 64 lower-case hex characters. */
export const generateInstanceSecret: Effect.Effect<string, never, SecretGenerator> = Effect.gen(function* () {
  const generator = yield* SecretGenerator
  const bytes = yield* generator.bytes(instanceSecretByteLength)
  return yield* Effect.orDie(instanceSecretFromBytes(bytes))
}).pipe(Effect.withSpan("generateInstanceSecret"))

/** What `issueAdminKeyWith` needs besides randomness and time. */
export interface IssueAdminKeyWithParams {
  /** The backend's `INSTANCE_NAME`. */
  readonly instanceName: string
  /** The backend's `INSTANCE_SECRET` (64 hex characters). */
  readonly instanceSecret: string
  /** The member the key belongs to; defaults to 0, as self-hosted Convex issues. */
  readonly memberId?: bigint | number
  /** Whether the key is read-only; defaults to false. */
  readonly readOnly?: boolean
}

/**
 * Issues an admin key now: the nonce comes from the `SecretGenerator` and the time of issue from Effect's
 * `Clock` (whole seconds), so `TestClock` controls `issuedAt`. Fails as `issueAdminKey` does; note that Convex
 * rejects a key issued at second 0, which is where `TestClock` starts.
 */
export const issueAdminKeyWith = Effect.fn("issueAdminKeyWith")(function* (params: IssueAdminKeyWithParams) {
  const generator = yield* SecretGenerator
  const nonce = yield* generator.bytes(adminKeyNonceLength)
  const nowMillis = yield* Clock.currentTimeMillis
  return yield* issueAdminKey({ ...params, issuedAt: Math.floor(nowMillis / 1000), nonce })
})
