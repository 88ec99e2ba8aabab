/**
 * Content hashes that trigger rollouts. A pod template carries the hash of everything its containers read at
 * start (the ConfigMap's data and the value of every referenced Secret/ConfigMap key), so that a change of any of
 * them rolls the pod. The input includes the 32-byte random instance secret, so the 16 hex digits published in
 * an annotation reveal nothing about any value.
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js"

/** Annotation of the backend and dashboard pod templates: the hash of their configuration. */
export const configHashAnnotation = "convex.icod.de/config-hash"

/** Annotation of the backend pod template: the restart plan's last restart (changing it rolls the pod). */
export const restartedAtAnnotation = "convex.icod.de/restarted-at"

const canonical = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(canonical)
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, entry]) => entry !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, entry]) => [key, canonical(entry)])
    )
  }
  return value
}

/** The SHA-256 of the canonical JSON of `value` (keys sorted), as lower-case hex. */
export const contentHash = (value: unknown): string => bytesToHex(sha256(utf8ToBytes(JSON.stringify(canonical(value)))))

/** The first 16 hex digits of `contentHash`, as used in annotations. */
export const shortHash = (value: unknown): string => contentHash(value).slice(0, 16)
