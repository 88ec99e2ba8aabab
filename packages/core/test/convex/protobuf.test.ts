import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import {
  decodeAdminKeyMessage,
  encodeMemberAdminKey,
  maxUint64,
  readVarint,
  writeVarint
} from "../../src/convex/protobuf.js"

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
const fromHex = (text: string) => new Uint8Array(Buffer.from(text, "hex"))

describe("AdminKey protobuf", () => {
  it("encodes as prost does", () => {
    expect(hex(encodeMemberAdminKey(1751819444n, 204415n, false))).toBe("10b4c9aac30618ffbc0c")
    expect(hex(encodeMemberAdminKey(1700000000n, 0n, false))).toBe("1080e2cfaa061800")
    expect(hex(encodeMemberAdminKey(1n, 0n, true))).toBe("100118002801")
  })

  it("decodes the plaintext of a key issued by Convex", () => {
    expect(decodeAdminKeyMessage(fromHex("10b4c9aac30618ffbc0c"))).toEqual({
      instanceName: undefined,
      issuedS: 1751819444n,
      identity: { _tag: "Member", memberId: 204415n },
      isReadOnly: false
    })
  })

  it("reads the instance name (field 1), a system identity (field 4), and skips unknown fields", () => {
    const name = Buffer.from("carnitas").toString("hex")
    expect(decodeAdminKeyMessage(fromHex(`0a08${name}1001220039010203040506070828014d01020304`))).toEqual({
      instanceName: "carnitas",
      issuedS: 1n,
      identity: { _tag: "System" },
      isReadOnly: true
    })
  })

  it.each([
    ["10", "truncated varint"],
    ["1080", "truncated varint"],
    ["0a05abcd", "longer than the message"],
    ["0a02fffe", "not UTF-8"],
    ["12021234", "wrong wire type"],
    ["0001", "field number 0"],
    ["1b", "unsupported wire type 3"],
    ["39010203", "truncated fixed-width"],
    ["10ffffffffffffffffff7f", "truncated varint"]
  ])("rejects %s (%s)", (bytes, reason) => {
    expect(decodeAdminKeyMessage(fromHex(bytes))).toEqual(expect.stringContaining(reason))
  })

  it("varints round-trip over the whole uint64 range", () => {
    FastCheck.assert(
      FastCheck.property(FastCheck.bigInt({ min: 0n, max: maxUint64 }), (value) => {
        const out: Array<number> = []
        writeVarint(out, value)
        expect(out.length).toBeLessThanOrEqual(10)
        expect(readVarint(Uint8Array.from(out), 0)).toEqual({ value, next: out.length })
      })
    )
    const max: Array<number> = []
    writeVarint(max, maxUint64)
    expect(hex(Uint8Array.from(max))).toBe("ffffffffffffffffff01")
    // 2^64 does not fit.
    expect(readVarint(fromHex("80808080808080808002"), 0)).toBeUndefined()
  })
})
