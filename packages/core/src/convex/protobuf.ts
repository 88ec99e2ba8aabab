/**
 * The protobuf wire format of Convex's `convex_keys.AdminKey`, by hand.
 *
 * The message has five scalar fields and no nesting we need to read, so a protobuf library (with its code
 * generator or runtime reflection) would be a dependency for about sixty lines of varint handling. The
 * encoder writes exactly what Convex's `prost` encoder writes; the decoder follows protobuf's rules
 * (last value wins, unknown fields are skipped) so that keys issued by Convex itself decode.
 *
 * ```proto
 * message AdminKey {
 *   optional string instance_name = 1;
 *   uint64 issued_s = 2;
 *   oneof identity { uint64 member_id = 3; google.protobuf.Empty system = 4; }
 *   bool is_read_only = 5;
 * }
 * ```
 *
 * @internal
 */

/** The largest value of a protobuf `uint64`. */
export const maxUint64 = (1n << 64n) - 1n

const WireVarint = 0
const WireFixed64 = 1
const WireLengthDelimited = 2
const WireFixed32 = 5

/** Appends `value` (0 ≤ value ≤ 2^64-1) as a base-128 varint. */
export const writeVarint = (out: Array<number>, value: bigint): void => {
  let rest = value
  while (rest >= 0x80n) {
    out.push(Number(rest & 0x7fn) | 0x80)
    rest >>= 7n
  }
  out.push(Number(rest))
}

/** A varint read from `bytes` at `offset`, or `undefined` when it is truncated or longer than 64 bits. */
export const readVarint = (
  bytes: Uint8Array,
  offset: number
): { readonly value: bigint; readonly next: number } | undefined => {
  let value = 0n
  let shift = 0n
  for (let i = offset; i < bytes.length && i < offset + 10; i++) {
    const byte = bytes[i]!
    value |= BigInt(byte & 0x7f) << shift
    if ((byte & 0x80) === 0) {
      return value > maxUint64 ? undefined : { value, next: i + 1 }
    }
    shift += 7n
  }
  return undefined
}

/** The fields of an `AdminKey` message. */
export interface AdminKeyMessage {
  readonly instanceName: string | undefined
  readonly issuedS: bigint
  readonly identity: { readonly _tag: "Member"; readonly memberId: bigint } | { readonly _tag: "System" } | undefined
  readonly isReadOnly: boolean
}

/**
 * Encodes the plaintext of an admin key as Convex's `prost` does: `issued_s` (field 2) always (it is never 0 in
 * a valid key), `member_id` (field 3) always, even when 0, because a oneof member is written whenever it is
 * set, and `is_read_only` (field 5) only when true (proto3 omits a false bool).
 */
export const encodeMemberAdminKey = (issuedS: bigint, memberId: bigint, isReadOnly: boolean): Uint8Array => {
  const out: Array<number> = []
  out.push((2 << 3) | WireVarint)
  writeVarint(out, issuedS)
  out.push((3 << 3) | WireVarint)
  writeVarint(out, memberId)
  if (isReadOnly) {
    out.push((5 << 3) | WireVarint, 1)
  }
  return Uint8Array.from(out)
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/**
 * Decodes an `AdminKey` message, or returns a sentence saying why the bytes are not one. The sentence
 * describes the structure only (field numbers, offsets), never the content.
 */
export const decodeAdminKeyMessage = (bytes: Uint8Array): AdminKeyMessage | string => {
  let instanceName: string | undefined
  let issuedS = 0n
  let identity: AdminKeyMessage["identity"]
  let isReadOnly = false
  let offset = 0
  while (offset < bytes.length) {
    const tag = readVarint(bytes, offset)
    if (tag === undefined) return `truncated field tag at byte ${offset}`
    offset = tag.next
    const field = tag.value >> 3n
    const wire = Number(tag.value & 7n)
    if (field === 0n) return "field number 0"
    if (wire === WireVarint) {
      const v = readVarint(bytes, offset)
      if (v === undefined) return `truncated varint in field ${field}`
      offset = v.next
      if (field === 2n) issuedS = v.value
      else if (field === 3n) identity = { _tag: "Member", memberId: v.value }
      else if (field === 5n) isReadOnly = v.value !== 0n
      else if (field === 1n || field === 4n) return `field ${field} has the wrong wire type`
    } else if (wire === WireLengthDelimited) {
      const len = readVarint(bytes, offset)
      if (len === undefined) return `truncated length in field ${field}`
      offset = len.next
      if (len.value > BigInt(bytes.length - offset)) return `field ${field} is longer than the message`
      const end = offset + Number(len.value)
      if (field === 1n) {
        try {
          instanceName = utf8.decode(bytes.subarray(offset, end))
        } catch {
          return "field 1 (instance_name) is not UTF-8"
        }
      } else if (field === 4n) identity = { _tag: "System" }
      else if (field === 2n || field === 3n || field === 5n) return `field ${field} has the wrong wire type`
      offset = end
    } else if (wire === WireFixed64 || wire === WireFixed32) {
      if (field >= 1n && field <= 5n) return `field ${field} has the wrong wire type`
      offset += wire === WireFixed64 ? 8 : 4
      if (offset > bytes.length) return `truncated fixed-width field ${field}`
    } else {
      return `unsupported wire type ${wire} in field ${field}`
    }
  }
  return { instanceName, issuedS, identity, isReadOnly }
}
