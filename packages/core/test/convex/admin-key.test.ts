import {
  adminKeyNonceLength,
  checkAdminKey,
  decodeAdminKey,
  deriveAdminKeyEncryptionKey,
  issueAdminKey,
  verifyAdminKey
} from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { gcmsiv } from "@noble/ciphers/aes.js"
import { bytesToHex, hexToBytes } from "@noble/ciphers/utils.js"
import { Either, FastCheck, Inspectable } from "effect"

// The vectors of /work/shared/CONVEX.md, checked against a key issued by Convex itself.
const secret = "4361726e697461732c206c69746572616c6c79206d65616e696e6720226c6974"
const otherSecret = "00".repeat(32)
const convexIssuedKey =
  "anonymous-coderouter|01a40410e2fed0907f9c63f1c290c49290734c176d95450a731d5b542ac0ffec3e16d58bde9d16"
const carnitasKey = "carnitas|01000000000000000000000000193c1d1d0ffdb38a78c50cfd2c3a4f7b118dbc819ff70f5f"
const zeroNonce = new Uint8Array(adminKeyNonceLength)

const right = <A, E>(either: Either.Either<A, E>): A =>
  Either.getOrThrowWith(either, (e) => new Error(`expected Right, got ${Inspectable.format(e)}`))
const left = <A, E>(either: Either.Either<A, E>): E =>
  Either.match(either, {
    onLeft: (e) => e,
    onRight: () => {
      throw new Error("expected Left")
    }
  })

/** Every way an error can end up in a log: none may contain the secret or the key's encrypted part. */
const renderings = (error: unknown): ReadonlyArray<string> => [
  String(error),
  (error as Error).message,
  JSON.stringify(error),
  Inspectable.format(error)
]

describe("admin key: Convex's own vectors", () => {
  it("derives the AES key from the instance secret", () => {
    expect(bytesToHex(right(deriveAdminKeyEncryptionKey(secret)))).toBe("a7526e1715ea4effa55636bee910d731")
  })

  it("decrypts the key issued by Convex to its exact plaintext", () => {
    const hex = convexIssuedKey.split("|")[1]!
    const bytes = hexToBytes(hex)
    const k = right(deriveAdminKeyEncryptionKey(secret))
    const plaintext = gcmsiv(k, bytes.subarray(1, 13), Uint8Array.of(1)).decrypt(bytes.subarray(13))
    expect(bytesToHex(plaintext)).toBe("10b4c9aac30618ffbc0c")
  })

  it("decodes the key issued by Convex", () => {
    expect(right(decodeAdminKey(convexIssuedKey, secret))).toEqual({
      instanceName: "anonymous-coderouter",
      issuedAt: 1751819444n,
      memberId: 204415n,
      readOnly: false
    })
    expect(verifyAdminKey(convexIssuedKey, "anonymous-coderouter", secret)).toBe(true)
  })

  it("issues exactly the key Convex issues for carnitas at 1700000000 with a zero nonce", () => {
    const key = right(
      issueAdminKey({ instanceName: "carnitas", instanceSecret: secret, issuedAt: 1700000000, nonce: zeroNonce })
    )
    expect(key).toBe(carnitasKey)
    expect(
      right(
        issueAdminKey({
          instanceName: "carnitas",
          instanceSecret: secret,
          issuedAt: 1700000000n,
          nonce: zeroNonce,
          memberId: 0n
        })
      )
    ).toBe(carnitasKey)
    expect(right(decodeAdminKey(key, secret))).toEqual({
      instanceName: "carnitas",
      issuedAt: 1700000000n,
      memberId: 0n,
      readOnly: false
    })
  })

  it("accepts the secret in upper case, as Convex's hex decoding does", () => {
    expect(verifyAdminKey(carnitasKey, "carnitas", secret.toUpperCase())).toBe(true)
  })
})

describe("admin key: issue → decode", () => {
  const name = FastCheck.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/)
  const bytes = (n: number) => FastCheck.uint8Array({ minLength: n, maxLength: n })
  const uint64 = (min: bigint) => FastCheck.bigInt({ min, max: (1n << 64n) - 1n })

  it.prop(
    "decoding an issued key gives back what it was issued with",
    {
      instanceName: name,
      secret: bytes(32),
      nonce: bytes(12),
      issuedAt: uint64(1n),
      memberId: uint64(0n),
      readOnly: FastCheck.boolean()
    },
    ({ instanceName, issuedAt, memberId, nonce, readOnly, secret }) => {
      const instanceSecret = bytesToHex(secret)
      const key = right(issueAdminKey({ instanceName, instanceSecret, issuedAt, nonce, memberId, readOnly }))
      expect(key).toMatch(/^[a-z0-9-]+\|01[0-9a-f]+$/)
      expect(right(decodeAdminKey(key, instanceSecret))).toEqual({ instanceName, issuedAt, memberId, readOnly })
      expect(verifyAdminKey(key, instanceName, instanceSecret)).toBe(true)
    }
  )

  it.prop(
    "a key does not verify with another secret",
    { secret: bytes(32), other: bytes(32), nonce: bytes(12) },
    ({ nonce, other, secret }) => {
      FastCheck.pre(bytesToHex(secret) !== bytesToHex(other))
      const key = right(
        issueAdminKey({ instanceName: "carnitas", instanceSecret: bytesToHex(secret), issuedAt: 1, nonce })
      )
      expect(verifyAdminKey(key, "carnitas", bytesToHex(other))).toBe(false)
      expect(left(decodeAdminKey(key, bytesToHex(other)))._tag).toBe("AdminKeyNotIssuedWithSecret")
    }
  )

  it("the read-only flag survives the round trip and is the trailing 0x28 0x01", () => {
    const readOnly = right(
      issueAdminKey({
        instanceName: "carnitas",
        instanceSecret: secret,
        issuedAt: 1700000000,
        nonce: zeroNonce,
        readOnly: true
      })
    )
    expect(right(decodeAdminKey(readOnly, secret)).readOnly).toBe(true)
    const bytes = hexToBytes(readOnly.split("|")[1]!)
    const k = right(deriveAdminKeyEncryptionKey(secret))
    const plaintext = gcmsiv(k, bytes.subarray(1, 13), Uint8Array.of(1)).decrypt(bytes.subarray(13))
    expect(bytesToHex(plaintext)).toBe("1080e2cfaa0618002801")
  })

  it("writes member 0 as 0x18 0x00", () => {
    const bytes = hexToBytes(carnitasKey.split("|")[1]!)
    const k = right(deriveAdminKeyEncryptionKey(secret))
    const plaintext = gcmsiv(k, bytes.subarray(1, 13), Uint8Array.of(1)).decrypt(bytes.subarray(13))
    expect(bytesToHex(plaintext)).toBe("1080e2cfaa061800")
  })

  it("nonces make keys differ", () => {
    const a = right(issueAdminKey({ instanceName: "x", instanceSecret: secret, issuedAt: 5, nonce: zeroNonce }))
    const b = right(
      issueAdminKey({
        instanceName: "x",
        instanceSecret: secret,
        issuedAt: 5,
        nonce: Uint8Array.from(zeroNonce, (_, i) => i)
      })
    )
    expect(a).not.toBe(b)
    expect(right(decodeAdminKey(a, secret))).toEqual(right(decodeAdminKey(b, secret)))
  })
})

describe("admin key: checking", () => {
  it("a key for another instance name fails to verify", () => {
    expect(verifyAdminKey(carnitasKey, "tacos", secret)).toBe(false)
    const error = left(checkAdminKey(carnitasKey, "tacos", secret))
    expect(error._tag).toBe("AdminKeyWrongInstance")
    expect(error.message).toBe(
      'the admin key is for instance "carnitas", not for instance "tacos": issue a key for "tacos"'
    )
  })

  it("accepts a prod:/dev: prefix before the name, as Convex does", () => {
    expect(verifyAdminKey(`prod:${carnitasKey}`, "carnitas", secret)).toBe(true)
    expect(right(decodeAdminKey(`dev:${carnitasKey}`, secret)).instanceName).toBe("carnitas")
  })

  it("the name before '|' is not covered by the encryption, but it is compared", () => {
    const renamed = carnitasKey.replace("carnitas|", "tacos|")
    expect(right(decodeAdminKey(renamed, secret)).instanceName).toBe("tacos")
    expect(verifyAdminKey(renamed, "carnitas", secret)).toBe(false)
  })

  it("a tampered ciphertext, tag or nonce fails to decrypt", () => {
    const [name, hex] = carnitasKey.split("|") as [string, string]
    for (const at of [2, 10, 30, hex.length - 1]) {
      const flipped = hex.slice(0, at) + (hex[at] === "0" ? "1" : "0") + hex.slice(at + 1)
      const error = left(decodeAdminKey(`${name}|${flipped}`, secret))
      expect(error._tag).toBe("AdminKeyNotIssuedWithSecret")
      expect(verifyAdminKey(`${name}|${flipped}`, name, secret)).toBe(false)
    }
  })

  it("names what is wrong with a malformed key", () => {
    expect(left(decodeAdminKey("carnitas|zz", secret))._tag).toBe("AdminKeyMalformed")
    expect(left(decodeAdminKey("carnitas|012", secret))._tag).toBe("AdminKeyMalformed")
    expect(left(decodeAdminKey("carnitas|0100", secret))._tag).toBe("AdminKeyMalformed")
    expect(left(decodeAdminKey(`${carnitasKey}\n`, secret))._tag).toBe("AdminKeyMalformed")
    expect(left(decodeAdminKey(carnitasKey.replace("|01", "|02"), secret))).toMatchObject({
      _tag: "AdminKeyUnsupportedVersion",
      version: 2
    })
    expect(left(decodeAdminKey(carnitasKey, "abc"))._tag).toBe("InvalidInstanceSecret")
  })

  it("a key without '|' needs the name inside its plaintext", () => {
    expect(left(decodeAdminKey(carnitasKey.split("|")[1]!, secret))).toMatchObject({
      _tag: "AdminKeyMalformed",
      message: expect.stringContaining("names no instance")
    })
  })

  it("rejects a well-encrypted plaintext that is not an admin key", () => {
    const k = right(deriveAdminKeyEncryptionKey(secret))
    const seal = (plaintext: Uint8Array) =>
      `carnitas|01${bytesToHex(zeroNonce)}${bytesToHex(gcmsiv(k, zeroNonce, Uint8Array.of(1)).encrypt(plaintext))}`
    expect(left(decodeAdminKey(seal(Uint8Array.of(0x18, 0x00)), secret)).message).toContain("issued_s")
    expect(left(decodeAdminKey(seal(Uint8Array.of(0x10, 0x01)), secret)).message).toContain("member_id")
    expect(left(decodeAdminKey(seal(Uint8Array.of(0x10, 0x81)), secret))._tag).toBe("AdminKeyInvalidPayload")
    // A system key (field 4, an empty message) and unknown fields decode as protobuf says they should.
    expect(right(decodeAdminKey(seal(Uint8Array.of(0x10, 0x01, 0x22, 0x00, 0x38, 0x07)), secret))).toEqual({
      instanceName: "carnitas",
      issuedAt: 1n,
      memberId: undefined,
      readOnly: false
    })
  })

  it("error messages never contain the secret or the key", () => {
    const hex = carnitasKey.split("|")[1]!
    const errors = [
      left(decodeAdminKey(carnitasKey, otherSecret)),
      left(checkAdminKey(carnitasKey, "tacos", secret)),
      left(decodeAdminKey(`carnitas|${hex.slice(0, 40)}`, secret)),
      left(decodeAdminKey(carnitasKey.replace("|01", "|07"), secret)),
      left(decodeAdminKey(carnitasKey, `${secret}0`)),
      left(decodeAdminKey(`${secret}|${hex}`, otherSecret)),
      left(checkAdminKey(`${secret}|${hex}`, "carnitas", secret.replace(/^43/, "44")))
    ]
    for (const error of errors) {
      for (const text of renderings(error)) {
        expect(text).not.toContain(secret)
        expect(text).not.toContain(secret.slice(0, 16))
        expect(text).not.toContain(hex.slice(0, 16))
      }
    }
  })
})

describe("admin key: invalid requests", () => {
  const base = { instanceName: "carnitas", instanceSecret: secret, issuedAt: 1700000000, nonce: zeroNonce }

  it.each([
    [{ ...base, instanceName: "" }, "instanceName"],
    [{ ...base, instanceName: "a|b" }, "instanceName"],
    [{ ...base, instanceName: "prod:a" }, "instanceName"],
    [{ ...base, nonce: new Uint8Array(16) }, "nonce"],
    [{ ...base, issuedAt: 0 }, "issuedAt"],
    [{ ...base, issuedAt: 1.5 }, "issuedAt"],
    [{ ...base, issuedAt: 1n << 64n }, "issuedAt"],
    [{ ...base, memberId: -1 }, "memberId"]
  ] as const)("rejects %o (%s)", (params, field) => {
    expect(left(issueAdminKey(params))).toMatchObject({ _tag: "InvalidAdminKeyRequest", field })
  })

  it("rejects an invalid secret without repeating it", () => {
    const bad = `${secret.slice(0, 63)}g`
    const error = left(issueAdminKey({ ...base, instanceSecret: bad }))
    expect(error._tag).toBe("InvalidInstanceSecret")
    expect(error.message).toContain("position 64")
    for (const text of renderings(error)) expect(text).not.toContain(bad.slice(0, 16))
  })
})
