/**
 * Convex's instance secret (`INSTANCE_SECRET`): 32 random bytes written as 64 hex characters. Every admin key
 * is encrypted with a key derived from it, so changing it revokes every admin key.
 *
 * Convex reads it with Rust's `hex::decode`, which accepts both letter cases; this module accepts both as
 * well and always generates lower case. No message produced here ever contains the secret itself.
 *
 * @module
 */
import { bytesToHex, hexToBytes } from "@noble/ciphers/utils.js"
import { Data, Either, Schema } from "effect"

/** The number of bytes in an instance secret. */
export const instanceSecretByteLength = 32

/** The shape of an instance secret: 64 hex characters, either case. */
export const instanceSecretPattern: RegExp = /^[0-9a-fA-F]{64}$/

/** An instance secret was rejected; `reason` describes the problem without the value. */
export class InvalidInstanceSecret extends Data.TaggedError("InvalidInstanceSecret")<{ readonly reason: string }> {
  override get message(): string {
    return `the instance secret ${this.reason}: use 64 hex characters (32 random bytes), as \`openssl rand -hex 32\` prints`
  }
}

/**
 * What is wrong with `value` as an instance secret, or `undefined` when it is valid. The answer names the
 * length or the position of the first offending character, never the characters themselves.
 */
export const instanceSecretProblem = (value: string): string | undefined => {
  if (value.length === 0) return "is empty"
  if (value.trim() !== value) return "has leading or trailing whitespace (a newline from `echo` or a file?)"
  if (value.length !== 2 * instanceSecretByteLength) return `has ${value.length} characters instead of 64`
  const bad = value.search(/[^0-9a-fA-F]/)
  if (bad >= 0) return `has a character that is not hex (0-9, a-f) at position ${bad + 1}`
  return undefined
}

/** Whether `value` is a valid instance secret (64 hex characters of either case). */
export const isValidInstanceSecret = (value: string): boolean => instanceSecretPattern.test(value)

/**
 * An instance secret as an Effect Schema: a string of 64 hex characters. Failures are reported without the
 * decoded value, so a parse error can be logged or shown in a status condition.
 */
export const InstanceSecret = Schema.String.annotations({
  message: () => "the instance secret must be a string of 64 hex characters"
})
  .pipe(
    Schema.pattern(instanceSecretPattern, {
      message: (issue) => {
        const problem = typeof issue.actual === "string" ? instanceSecretProblem(issue.actual) : undefined
        return new InvalidInstanceSecret({ reason: problem ?? "is not valid" }).message
      }
    })
  )
  .annotations({ identifier: "InstanceSecret", description: "64 hex characters (32 bytes)" })

/** Writes 32 bytes as an instance secret (lower-case hex). Fails when `bytes` is not exactly 32 bytes long. */
export const instanceSecretFromBytes = (bytes: Uint8Array): Either.Either<string, InvalidInstanceSecret> =>
  bytes.length === instanceSecretByteLength
    ? Either.right(bytesToHex(bytes))
    : Either.left(new InvalidInstanceSecret({ reason: `would be made of ${bytes.length} bytes instead of 32` }))

/** The 32 bytes of an instance secret, or why it is not one. */
export const instanceSecretBytes = (instanceSecret: string): Either.Either<Uint8Array, InvalidInstanceSecret> => {
  const problem = instanceSecretProblem(instanceSecret)
  return problem === undefined
    ? Either.right(hexToBytes(instanceSecret))
    : Either.left(new InvalidInstanceSecret({ reason: problem }))
}
