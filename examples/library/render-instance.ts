/**
 * @convex-operator/core: what the operator will create for an instance, without a cluster (what its `render`
 * command prints), and the CRDs to install, generated from the same Effect Schema that decodes the instance.
 */
import { ConvexInstance, crds, decodeConvexInstance, renderInstance } from "@convex-operator/core"
import { Either, Schema } from "effect"

const instance = Either.getOrThrow(
  decodeConvexInstance({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name: "hello", namespace: "apps" },
    spec: { environment: "prod", version: "652b828b5129e6cdbcaa3c20efa8d116d09ff3bf" }
  })
)

// Every child, as the operator would apply it; generated secrets are placeholders, nothing random is drawn.
for (const object of renderInstance(instance, { operatorImage: "registry.example/convex-operator:1" })) {
  const { kind, metadata } = object as { kind: string; metadata: { name: string } }
  console.log(`${kind} ${metadata.name}`)
}

// The CRDs (OpenAPI schema, defaults, CEL rules) come from the Schema; serialise them with any YAML library.
for (const crd of crds) console.log(`crd ${crd.metadata.name}`)

// The Schema itself: encode a decoded instance back to what the apiserver stores (defaults filled in).
const stored = Schema.encodeSync(ConvexInstance)(instance)
console.log(`restartInterval: ${stored.spec.maintenance?.restartInterval}`)
