/**
 * The generated Secret `<name>-convex-secrets`: the backend's `INSTANCE_SECRET` and an admin key issued with it.
 * Core decides its content; randomness is passed in (pre-drawn from the `SecretGenerator`), so the decision is
 * deterministic. An existing valid pair is never replaced; a missing or invalid admin key is reissued without
 * touching a valid secret; a missing or invalid secret is generated anew, which forces a new admin key.
 * With `spec.backend.instanceSecretRef`, the secret is copied from the user's Secret instead (that Secret is only
 * read), and the admin key is kept or issued with it.
 *
 * @module
 */
import { Effect, Either } from "effect"
import {
  adminKeyNonceLength,
  checkAdminKey,
  instanceSecretByteLength,
  instanceSecretFromBytes,
  issueAdminKey,
  isValidInstanceSecret,
  SecretGenerator
} from "../convex/index.js"
import { childMeta, type RenderContext } from "./context.js"
import { secretKeys } from "./names.js"
import type { Secret } from "./objects.js"
import { toBase64 } from "./observed.js"

/** Random bytes drawn before deciding, used only when something must be generated. */
export interface Entropy {
  /** 32 bytes for a new instance secret. */
  readonly instanceSecret: Uint8Array
  /** 12 bytes for the nonce of a new admin key. */
  readonly adminKeyNonce: Uint8Array
}

/** Draws the entropy one decision may need from the `SecretGenerator`. */
export const drawEntropy: Effect.Effect<Entropy, never, SecretGenerator> = Effect.gen(function* () {
  const generator = yield* SecretGenerator
  return {
    instanceSecret: yield* generator.bytes(instanceSecretByteLength),
    adminKeyNonce: yield* generator.bytes(adminKeyNonceLength)
  }
})

/** What happened to the generated Secret's content. */
export type SecretChange =
  /** Both values were valid and are kept. */
  | "Kept"
  /** There was no Secret (or neither value): both were generated. */
  | "Generated"
  /** The instance secret was valid, the admin key missing or invalid: a new key was issued. */
  | "AdminKeyIssued"
  /** The instance secret was invalid: a new one was generated, and with it a new admin key. */
  | "InstanceSecretRegenerated"
  /**
   * The instance secret was taken from `spec.backend.instanceSecretRef` (it was absent or differed here), and an
   * admin key was issued with it.
   */
  | "InstanceSecretAdopted"

/** The content of the generated Secret. */
export interface GeneratedSecrets {
  readonly instanceSecret: string
  readonly adminKey: string
  readonly change: SecretChange
}

/** What the generated Secret's content is decided from. */
export interface GeneratedSecretsInput {
  /** The backend's `INSTANCE_NAME`. */
  readonly instanceName: string
  /** The decoded data of the observed Secret, if any. */
  readonly observed: Readonly<Record<string, string>> | undefined
  /**
   * A valid instance secret from the user's Secret (`spec.backend.instanceSecretRef`): it is used instead of the
   * observed or a generated one. Undefined when there is no reference or it cannot be used (the backend is held).
   */
  readonly referenced?: string | undefined
  readonly entropy: Entropy
  readonly now: Date
}

/**
 * Decides the instance secret and admin key. Total: invalid entropy (wrong lengths) is a programming error of
 * the caller and throws.
 */
export const decideGeneratedSecrets = (input: GeneratedSecretsInput): GeneratedSecrets => {
  const oldSecret = input.observed?.[secretKeys.instanceSecret]
  const oldKey = input.observed?.[secretKeys.adminKey]
  const adopted = input.referenced !== undefined && input.referenced !== oldSecret
  const secretValid = !adopted && oldSecret !== undefined && isValidInstanceSecret(oldSecret)
  const instanceSecret =
    input.referenced ??
    (secretValid ? oldSecret : Either.getOrThrow(instanceSecretFromBytes(input.entropy.instanceSecret)))
  if (secretValid && oldKey !== undefined && Either.isRight(checkAdminKey(oldKey, input.instanceName, oldSecret))) {
    return { instanceSecret, adminKey: oldKey, change: "Kept" }
  }
  const adminKey = Either.getOrThrow(
    issueAdminKey({
      instanceName: input.instanceName,
      instanceSecret,
      issuedAt: Math.max(1, Math.floor(input.now.getTime() / 1000)),
      nonce: input.entropy.adminKeyNonce
    })
  )
  const change: SecretChange = adopted
    ? "InstanceSecretAdopted"
    : secretValid
      ? "AdminKeyIssued"
      : oldSecret === undefined && oldKey === undefined
        ? "Generated"
        : "InstanceSecretRegenerated"
  return { instanceSecret, adminKey, change }
}

/** The data of the generated Secret, decoded (as used for hashing). */
export const generatedSecretData = (secrets: GeneratedSecrets): Readonly<Record<string, string>> => ({
  [secretKeys.adminKey]: secrets.adminKey,
  [secretKeys.instanceSecret]: secrets.instanceSecret
})

/** Renders the generated Secret. */
export const renderGeneratedSecret = (context: RenderContext, secrets: GeneratedSecrets): Secret => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: childMeta(context, context.names.secrets, "secrets"),
  type: "Opaque",
  data: Object.fromEntries(Object.entries(generatedSecretData(secrets)).map(([key, value]) => [key, toBase64(value)]))
})
