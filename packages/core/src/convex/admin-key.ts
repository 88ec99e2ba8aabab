/**
 * Convex admin keys, issued and checked exactly as the Convex backend does (verified against a key issued by
 * Convex itself):
 *
 * 1. `K = HMAC-SHA256(key = secret, msg = 0x00000001 ‖ "admin key")[0..16]` (NIST SP 800-108 counter-mode KDF,
 *    4-byte big-endian counter, no separator or length field);
 * 2. plaintext = protobuf `AdminKey { issued_s = 2; member_id = 3; is_read_only = 5 }`;
 * 3. AES-128-GCM-SIV (RFC 8452) with a 12-byte nonce and associated data `0x01`;
 * 4. key = `"<INSTANCE_NAME>|" + lowercaseHex(0x01 ‖ nonce ‖ ciphertext ‖ tag)`.
 *
 * Keys never expire: only a new instance secret (or instance name) revokes them. Every function here is pure;
 * the nonce and the time are arguments (see `issueAdminKeyWith` in `random.ts` for the effectful variant).
 * No error or message produced here contains the instance secret or the key.
 *
 * @module
 */
import { gcmsiv } from "@noble/ciphers/aes.js"
import { bytesToHex, hexToBytes } from "@noble/ciphers/utils.js"
import { hmac } from "@noble/hashes/hmac.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { Data, Either } from "effect"
import { type InvalidInstanceSecret, instanceSecretBytes } from "./instance-secret.js"
import { decodeAdminKeyMessage, encodeMemberAdminKey, maxUint64 } from "./protobuf.js"

/** The version byte that starts the encrypted part of an admin key. */
export const adminKeyVersion = 1

/** The length in bytes of the nonce of an admin key (AES-GCM-SIV's 96-bit nonce). */
export const adminKeyNonceLength = 12

const tagLength = 16
const associatedData = Uint8Array.of(adminKeyVersion)
const kdfInput = Uint8Array.of(0, 0, 0, 1, ...new TextEncoder().encode("admin key"))

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** The key does not have the shape `<instance name>|<hex>` or its hex part is not hex or too short. */
export class AdminKeyMalformed extends Data.TaggedError("AdminKeyMalformed")<{ readonly reason: string }> {
  override get message(): string {
    return `the admin key is malformed: ${this.reason}; an admin key looks like "<instance name>|01<hex digits>"`
  }
}

/** The encrypted part starts with a version byte other than 1. */
export class AdminKeyUnsupportedVersion extends Data.TaggedError("AdminKeyUnsupportedVersion")<{
  readonly version: number
}> {
  override get message(): string {
    return `the admin key has version ${this.version}, but Convex admin keys have version ${adminKeyVersion}`
  }
}

/** Decryption failed: the key was issued with another instance secret, or it was altered. */
export class AdminKeyNotIssuedWithSecret extends Data.TaggedError("AdminKeyNotIssuedWithSecret")<{}> {
  override get message(): string {
    return "the admin key was not issued with this instance secret (or it was altered): issue a new key from the current INSTANCE_SECRET"
  }
}

/** The key decrypts, but its plaintext is not a valid `AdminKey` message. */
export class AdminKeyInvalidPayload extends Data.TaggedError("AdminKeyInvalidPayload")<{ readonly reason: string }> {
  override get message(): string {
    return `the admin key decrypts, but its content is not a Convex admin key: ${this.reason}`
  }
}

/** The key is valid, but for another instance name. */
export class AdminKeyWrongInstance extends Data.TaggedError("AdminKeyWrongInstance")<{
  readonly expected: string
  /** The name the key carries, or `undefined` when it does not look like an instance name. */
  readonly actual: string | undefined
}> {
  override get message(): string {
    const actual = this.actual === undefined ? "another instance" : `instance "${this.actual}"`
    return `the admin key is for ${actual}, not for instance "${this.expected}": issue a key for "${this.expected}"`
  }
}

/** The arguments of `issueAdminKey` cannot make a key Convex accepts; `field` names the argument. */
export class InvalidAdminKeyRequest extends Data.TaggedError("InvalidAdminKeyRequest")<{
  readonly field: "instanceName" | "issuedAt" | "memberId" | "nonce"
  readonly reason: string
}> {
  override get message(): string {
    return `cannot issue an admin key: ${this.field} ${this.reason}`
  }
}

/** Why a key failed to decode with a given secret. */
export type AdminKeyDecodeError =
  | AdminKeyMalformed
  | AdminKeyUnsupportedVersion
  | AdminKeyNotIssuedWithSecret
  | AdminKeyInvalidPayload
  | InvalidInstanceSecret

// ---------------------------------------------------------------------------------------------------------------
// Key derivation

/**
 * The AES-128 key that encrypts admin keys, derived from the instance secret (hex) with HMAC-SHA256 in
 * counter mode: the first 16 bytes of `HMAC(secret, 0x00000001 ‖ "admin key")`.
 */
export const deriveAdminKeyEncryptionKey = (instanceSecret: string): Either.Either<Uint8Array, InvalidInstanceSecret> =>
  Either.map(instanceSecretBytes(instanceSecret), deriveFromBytes)

// @noble/hashes rather than node:crypto or Web Crypto: synchronous (these functions return Either, not Effect) and
// free of Node built-ins, so core runs in browsers, edge functions and Deno.
const deriveFromBytes = (secret: Uint8Array): Uint8Array => hmac(sha256, secret, kdfInput).slice(0, 16)

// ---------------------------------------------------------------------------------------------------------------
// Issuing

/** What an admin key is made of. */
export interface IssueAdminKeyParams {
  /** The backend's `INSTANCE_NAME`; written in clear before the `|`. */
  readonly instanceName: string
  /** The backend's `INSTANCE_SECRET` (64 hex characters). */
  readonly instanceSecret: string
  /** Time of issue in seconds since the Unix epoch; Convex rejects 0. */
  readonly issuedAt: bigint | number
  /** 12 bytes, unique per key issued with one secret (draw them from a secure random source). */
  readonly nonce: Uint8Array
  /** The member the key belongs to; 0 (the default) is what self-hosted Convex issues. */
  readonly memberId?: bigint | number
  /** A read-only key may run queries but not mutations or actions. Defaults to false. */
  readonly readOnly?: boolean
}

const toUint64 = (
  field: "issuedAt" | "memberId",
  value: bigint | number,
  min: bigint
): Either.Either<bigint, InvalidAdminKeyRequest> => {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    return Either.left(new InvalidAdminKeyRequest({ field, reason: "must be a whole number" }))
  }
  const big = BigInt(value)
  return big < min || big > maxUint64
    ? Either.left(new InvalidAdminKeyRequest({ field, reason: `must be between ${min} and 2^64-1` }))
    : Either.right(big)
}

/**
 * Issues an admin key, deterministically: the same arguments give the same key. Fails when the secret is not
 * 64 hex characters, the nonce is not 12 bytes, `issuedAt` is not a positive whole number of seconds, or the
 * instance name is empty or contains `|` or `:` (which Convex would read as a separator or a type prefix).
 */
export const issueAdminKey = (
  params: IssueAdminKeyParams
): Either.Either<string, InvalidInstanceSecret | InvalidAdminKeyRequest> =>
  Either.gen(function* () {
    const { instanceName, nonce } = params
    if (instanceName.length === 0) {
      return yield* Either.left(new InvalidAdminKeyRequest({ field: "instanceName", reason: "is empty" }))
    }
    if (/[|:]/.test(instanceName)) {
      return yield* Either.left(
        new InvalidAdminKeyRequest({
          field: "instanceName",
          reason: "contains '|' or ':', which Convex reads as separators in an admin key"
        })
      )
    }
    if (nonce.length !== adminKeyNonceLength) {
      return yield* Either.left(
        new InvalidAdminKeyRequest({ field: "nonce", reason: `has ${nonce.length} bytes instead of 12` })
      )
    }
    const issuedS = yield* toUint64("issuedAt", params.issuedAt, 1n)
    const memberId = yield* toUint64("memberId", params.memberId ?? 0n, 0n)
    const key = deriveFromBytes(yield* instanceSecretBytes(params.instanceSecret))
    const plaintext = encodeMemberAdminKey(issuedS, memberId, params.readOnly ?? false)
    const sealed = gcmsiv(key, nonce, associatedData).encrypt(plaintext)
    const body = new Uint8Array(1 + nonce.length + sealed.length)
    body[0] = adminKeyVersion
    body.set(nonce, 1)
    body.set(sealed, 1 + nonce.length)
    return `${instanceName}|${bytesToHex(body)}`
  })

// ---------------------------------------------------------------------------------------------------------------
// Decoding and checking

/** What an admin key says once decrypted. */
export interface DecodedAdminKey {
  /** The instance the key is for: the name before `|`, without a `prod:`/`dev:` type prefix. */
  readonly instanceName: string
  /** Time of issue in seconds since the Unix epoch. */
  readonly issuedAt: bigint
  /** The member the key was issued to; `undefined` for a system key (Convex-internal). */
  readonly memberId: bigint | undefined
  /** Whether the key is read-only. */
  readonly readOnly: boolean
}

// Names are echoed in messages only when they look like instance names, so that a secret pasted in the wrong
// place is never repeated back.
const echoableName = (name: string): string | undefined => (/^[A-Za-z0-9_-]{1,63}$/.test(name) ? name : undefined)

const splitKey = (key: string): { readonly name: string | undefined; readonly encrypted: string } => {
  const bar = key.indexOf("|")
  if (bar < 0) return { name: undefined, encrypted: key }
  const namePart = key.slice(0, bar)
  // Convex drops a `prod:`/`dev:` prefix that its dashboard and CLI add for display.
  const colon = namePart.indexOf(":")
  return { name: colon < 0 ? namePart : namePart.slice(colon + 1), encrypted: key.slice(bar + 1) }
}

/**
 * Decrypts an admin key with an instance secret, as the Convex backend does, and returns what it says. Fails
 * with a tagged error saying whether the key is malformed, of an unknown version, not issued with this secret
 * (or altered), or decrypts to something that is not an admin key. It does not compare the instance name: see
 * `checkAdminKey`.
 */
export const decodeAdminKey = (
  key: string,
  instanceSecret: string
): Either.Either<DecodedAdminKey, AdminKeyDecodeError> =>
  Either.gen(function* () {
    const secret = yield* instanceSecretBytes(instanceSecret)
    if (key.trim() !== key) {
      return yield* Either.left(new AdminKeyMalformed({ reason: "it has leading or trailing whitespace" }))
    }
    const { encrypted, name } = splitKey(key)
    if (encrypted.length % 2 !== 0 || /[^0-9a-fA-F]/.test(encrypted)) {
      return yield* Either.left(new AdminKeyMalformed({ reason: "the part after '|' is not hex" }))
    }
    const bytes = hexToBytes(encrypted)
    if (bytes.length < 1 + adminKeyNonceLength + tagLength) {
      return yield* Either.left(new AdminKeyMalformed({ reason: `the encrypted part is only ${bytes.length} bytes` }))
    }
    if (bytes[0] !== adminKeyVersion) {
      return yield* Either.left(new AdminKeyUnsupportedVersion({ version: bytes[0]! }))
    }
    const nonce = bytes.subarray(1, 1 + adminKeyNonceLength)
    const sealed = bytes.subarray(1 + adminKeyNonceLength)
    let plaintext: Uint8Array
    try {
      plaintext = gcmsiv(deriveFromBytes(secret), nonce, associatedData).decrypt(sealed)
    } catch {
      return yield* Either.left(new AdminKeyNotIssuedWithSecret())
    }
    const message = decodeAdminKeyMessage(plaintext)
    if (typeof message === "string") {
      return yield* Either.left(new AdminKeyInvalidPayload({ reason: message }))
    }
    if (message.issuedS === 0n) {
      return yield* Either.left(new AdminKeyInvalidPayload({ reason: "it has no time of issue (issued_s)" }))
    }
    if (message.identity === undefined) {
      return yield* Either.left(new AdminKeyInvalidPayload({ reason: "it names no member (member_id)" }))
    }
    const instanceName = name ?? message.instanceName
    if (instanceName === undefined) {
      return yield* Either.left(new AdminKeyMalformed({ reason: "it names no instance (no '|')" }))
    }
    return {
      instanceName,
      issuedAt: message.issuedS,
      memberId: message.identity._tag === "Member" ? message.identity.memberId : undefined,
      readOnly: message.isReadOnly
    }
  })

/**
 * Checks an admin key as the backend with this `INSTANCE_NAME` and `INSTANCE_SECRET` would: it must decrypt
 * (see `decodeAdminKey`) and name this instance.
 */
export const checkAdminKey = (
  key: string,
  instanceName: string,
  instanceSecret: string
): Either.Either<DecodedAdminKey, AdminKeyDecodeError | AdminKeyWrongInstance> =>
  Either.flatMap(decodeAdminKey(key, instanceSecret), (decoded) =>
    decoded.instanceName === instanceName
      ? Either.right(decoded)
      : Either.left(new AdminKeyWrongInstance({ expected: instanceName, actual: echoableName(decoded.instanceName) }))
  )

/** Whether the backend with this `INSTANCE_NAME` and `INSTANCE_SECRET` accepts `key` as an admin key. */
export const verifyAdminKey = (key: string, instanceName: string, instanceSecret: string): boolean =>
  Either.isRight(checkAdminKey(key, instanceName, instanceSecret))
