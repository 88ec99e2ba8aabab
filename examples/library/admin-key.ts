/**
 * @convex-operator/core: Convex's admin keys, offline. A key issued from an instance secret verifies against it
 * (and only for the instance it names), exactly as the Convex backend checks it.
 */

import { randomBytes } from "node:crypto"
import { decodeAdminKey, issueAdminKey, verifyAdminKey } from "@convex-operator/core"
import { Either } from "effect"

const instanceSecret = randomBytes(32).toString("hex")
const key = Either.getOrThrow(
  issueAdminKey({
    instanceName: "hello",
    instanceSecret,
    issuedAt: Math.floor(Date.now() / 1000),
    nonce: randomBytes(12),
    readOnly: true
  })
)
console.log(`key for: ${key.split("|")[0]}`)
console.log(`verifies for hello: ${verifyAdminKey(key, "hello", instanceSecret)}`)
console.log(`verifies for other: ${verifyAdminKey(key, "other", instanceSecret)}`)
const decoded = Either.getOrThrow(decodeAdminKey(key, instanceSecret))
console.log(`read-only: ${decoded.readOnly}`)
