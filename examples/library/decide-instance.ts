/**
 * @convex-operator/core: decode a ConvexInstance exactly as admission would, then ask `decide` what the operator
 * would create for it. Pure: no cluster, no I/O; randomness comes from a SecretGenerator layer.
 */
import { decide, decodeConvexInstance, drawEntropy, SecretGenerator } from "@convex-operator/core"
import { Effect, Either } from "effect"

const manifest = {
  apiVersion: "convex.icod.de/v1alpha1",
  kind: "ConvexInstance",
  metadata: { name: "hello", namespace: "default", uid: "5e1f1f4c-0000-4000-8000-000000000001", generation: 1 },
  spec: { environment: "dev", version: "652b828b5129e6cdbcaa3c20efa8d116d09ff3bf" }
}

// Decoding applies the Schema's defaults and checks every rule the CRD states; errors name the field.
const instance = Either.getOrThrow(decodeConvexInstance(manifest))
console.log(
  `storage: ${instance.spec.backend.storage.mode}, restart every ${instance.spec.maintenance.restartInterval}`
)

const invalid = decodeConvexInstance({ ...manifest, spec: { ...manifest.spec, environment: "staging" } })
if (Either.isLeft(invalid)) console.log(`rejected: ${invalid.left.issues[0]?.path}`)

// decide(instance, observed, now): nothing observed yet, so everything is to be applied.
const entropy = Effect.runSync(drawEntropy.pipe(Effect.provide(SecretGenerator.layerLive)))
const decision = decide(instance, { objects: [], entropy }, new Date())
for (const object of decision.apply) console.log(`apply ${object.kind} ${object.metadata.name}`)
console.log(`phase: ${decision.status.phase}`)
