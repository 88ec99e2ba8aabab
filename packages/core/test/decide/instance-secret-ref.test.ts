/**
 * `spec.backend.instanceSecretRef`: an instance that keeps the INSTANCE_SECRET of a deployment moved in. The
 * operator copies it into its generated Secret and derives the admin key from it; keys issued before keep working,
 * the user's Secret is only read, and a missing or wrong Secret holds the backend with a condition and an event
 * that name the field and never the value.
 */
import {
  childNames,
  decide,
  decodeAdminKey,
  issueAdminKey,
  type KubeObject,
  secretKeys,
  verifyAdminKey
} from "@convex-operator/core"
import { findCondition, instanceReferences } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { entropy, find, minimal, now, otherEntropy, secret, settle } from "./support.js"

/** The old deployment's INSTANCE_SECRET (CONVEX.md's test vector). */
const oldSecret = "4361726e697461732c206c69746572616c6c79206d65616e696e6720226c6974"
const names = childNames("demo")
const adopting = (ref: Record<string, unknown> = { name: "old" }, extra: Record<string, unknown> = {}) =>
  minimal({ backend: { instanceSecretRef: ref, ...extra } })

const generated = (decision: ReturnType<typeof decide>) => {
  const data = find(decision, "Secret", names.secrets).data
  const decode = (key: string) => Buffer.from(data[key] ?? "", "base64").toString("utf8")
  return { secret: decode(secretKeys.instanceSecret), key: decode(secretKeys.adminKey) }
}

describe("spec.backend.instanceSecretRef", () => {
  it("uses the referenced secret: a key the library issued with it before verifies, and so does the operator's", () => {
    const user = secret("old", { INSTANCE_SECRET: oldSecret })
    const decision = decide(adopting(), { objects: [user], entropy }, now)
    const { secret: copied, key } = generated(decision)
    expect(copied).toBe(oldSecret)
    // A key issued with the old secret long before the move (as the old deployment's generate_key would).
    const before = Either.getOrThrow(
      issueAdminKey({
        instanceName: "demo",
        instanceSecret: oldSecret,
        issuedAt: 1_600_000_000,
        nonce: new Uint8Array(12)
      })
    )
    expect(verifyAdminKey(before, "demo", copied)).toBe(true)
    expect(verifyAdminKey(key, "demo", oldSecret)).toBe(true)
    // Same format as a freshly issued key: name, '|', version 1, 12-byte nonce, 10-byte payload + 16-byte tag.
    const fresh = Either.getOrThrow(
      issueAdminKey({
        instanceName: "demo",
        instanceSecret: oldSecret,
        issuedAt: 1_700_000_000,
        nonce: entropy.adminKeyNonce
      })
    )
    expect(key).toMatch(/^demo\|01[0-9a-f]+$/)
    expect(key.length).toBe(fresh.length)
    const decoded = Either.getOrThrow(decodeAdminKey(key, oldSecret))
    expect(decoded.memberId).toBe(0n)
    expect(decoded.issuedAt).toBe(BigInt(Math.floor(now.getTime() / 1000)))
    expect(decision.desired.some((object) => object.kind === "StatefulSet")).toBe(true)
    expect(decision.events).toContainEqual(expect.objectContaining({ type: "Normal", reason: "InstanceSecretAdopted" }))
    expect(JSON.stringify(decision.events)).not.toContain(oldSecret)
    expect(JSON.stringify(decision.status)).not.toContain(oldSecret)
  })

  it("never renders or writes the user's Secret, and is watched by name", () => {
    const user = secret("old", { INSTANCE_SECRET: oldSecret })
    const { decision } = settle(adopting(), [user])
    expect(decision.desired.some((object) => object.metadata.name === "old")).toBe(false)
    expect(decision.apply).toEqual([])
    expect(decision.delete).toEqual([])
    expect(instanceReferences(adopting()).secrets).toEqual(["old"])
  })

  it("keeps the copy and its key once settled; a generated secret already there is replaced by the referenced one", () => {
    const user = secret("old", { INSTANCE_SECRET: oldSecret })
    const first = generated(decide(adopting(), { objects: [user], entropy }, now))
    const kept = secret(names.secrets, { [secretKeys.instanceSecret]: first.secret, [secretKeys.adminKey]: first.key })
    const again = decide(adopting(), { objects: [user, kept], entropy: otherEntropy }, now)
    expect(generated(again)).toEqual(first)
    expect(again.events.map((event) => event.reason)).not.toContain("InstanceSecretAdopted")

    const random = generated(decide(minimal(), { objects: [], entropy }, now))
    const before = secret(names.secrets, {
      [secretKeys.instanceSecret]: random.secret,
      [secretKeys.adminKey]: random.key
    })
    const adopted = decide(adopting(), { objects: [user, before], entropy: otherEntropy }, now)
    expect(generated(adopted).secret).toBe(oldSecret)
    expect(verifyAdminKey(generated(adopted).key, "demo", oldSecret)).toBe(true)
  })

  it("drops a trailing newline (a Secret made from Convex's credentials/instance_secret file has one)", () => {
    const user = secret("old", { INSTANCE_SECRET: `${oldSecret}\n` })
    const decision = decide(adopting(), { objects: [user], entropy }, now)
    expect(generated(decision).secret).toBe(oldSecret)
    expect(decision.desired.some((object) => object.kind === "StatefulSet")).toBe(true)
  })

  it("takes the secret from a key the user names", () => {
    const user = secret("compose", { secret: oldSecret.toUpperCase() })
    const decision = decide(adopting({ name: "compose", key: "secret" }), { objects: [user], entropy }, now)
    expect(verifyAdminKey(generated(decision).key, "demo", oldSecret)).toBe(true)
  })

  const heldBy = (objects: ReadonlyArray<KubeObject>, ref: Record<string, unknown> = { name: "old" }) => {
    const decision = decide(adopting(ref), { objects, entropy }, now)
    expect(decision.desired.some((object) => object.kind === "StatefulSet")).toBe(false)
    const condition = findCondition(decision.status.conditions, "SecretsReady")
    expect(condition).toMatchObject({ status: "False", reason: "ValidationFailed" })
    const warnings = decision.events.filter((event) => event.type === "Warning" && event.reason === "ValidationFailed")
    expect(warnings).toHaveLength(1)
    expect(JSON.stringify(decision.status) + JSON.stringify(decision.events)).not.toContain(oldSecret.slice(0, 40))
    return condition?.message ?? ""
  }

  it("a missing Secret or key, or a value that is not an instance secret, holds the backend naming field and fix", () => {
    expect(heldBy([])).toContain(
      'spec.backend.instanceSecretRef: Secret "old" does not exist: create it with the old deployment\'s INSTANCE_SECRET under key "INSTANCE_SECRET"'
    )
    expect(heldBy([secret("old", { other: oldSecret })])).toContain(
      'spec.backend.instanceSecretRef.key: Secret "old" has no key "INSTANCE_SECRET"'
    )
    const short = heldBy([secret("old", { INSTANCE_SECRET: oldSecret.slice(0, 40) })])
    expect(short).toContain("has 40 characters instead of 64")
    expect(heldBy([secret("old", { INSTANCE_SECRET: "" })])).toContain("the instance secret is empty")
  })

  it("nameKey: the recorded instance name must be this instance's INSTANCE_NAME", () => {
    const ref = { name: "old", nameKey: "INSTANCE_NAME" }
    const message = heldBy([secret("old", { INSTANCE_SECRET: oldSecret, INSTANCE_NAME: "convex-self-hosted" })], ref)
    expect(message).toContain(
      'records the instance name "convex-self-hosted", but this instance\'s INSTANCE_NAME is "demo"'
    )
    expect(message).toContain('set spec.backend.db.databaseName to "convex_self_hosted"')
    expect(heldBy([secret("old", { INSTANCE_SECRET: oldSecret })], ref)).toContain('has no key "INSTANCE_NAME"')
    // With databaseName, INSTANCE_NAME is that name with '_' → '-': the old name, and the old keys, fit.
    const renamed = adopting(ref, { db: { databaseName: "convex_self_hosted" } })
    const user = secret("old", { INSTANCE_SECRET: oldSecret, INSTANCE_NAME: "convex-self-hosted" })
    const decision = decide(renamed, { objects: [user], entropy }, now)
    expect(decision.desired.some((object) => object.kind === "StatefulSet")).toBe(true)
    const key = Buffer.from(
      find(decision, "Secret", names.secrets).data[secretKeys.adminKey] ?? "",
      "base64"
    ).toString()
    expect(verifyAdminKey(key, "convex-self-hosted", oldSecret)).toBe(true)
  })
})
