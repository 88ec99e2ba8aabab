/** Shared helpers of the render, status, upgrade and decide tests: sample instances, a simulated cluster. */
import {
  type ConvexInstance,
  type ConvexInstanceEncoded,
  type DecideOptions,
  type Decision,
  decide,
  decodeConvexInstance,
  type Entropy,
  type KubeObject,
  type Observed,
  restartNext,
  restoreNext,
  upgradeNext
} from "@convex-operator/core"
import { toBase64 } from "@convex-operator/core/internal"
import { Either } from "effect"
import { convexInstances } from "../../../../test/support/manifests.js"

/** A fixed time for decisions. */
export const now = new Date("2025-06-01T12:00:00Z")

/** Fixed entropy (never used by a real cluster). */
export const entropy: Entropy = {
  instanceSecret: Uint8Array.from({ length: 32 }, (_, i) => i + 1),
  adminKeyNonce: Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i)
}

/** Other fixed entropy, to check that it is not used when nothing must be generated. */
export const otherEntropy: Entropy = {
  instanceSecret: new Uint8Array(32).fill(0x55),
  adminKeyNonce: new Uint8Array(12).fill(0x66)
}

/** Decodes a manifest, placing it in namespace `convex` with a uid and generation 1. */
export const instanceOf = (manifest: unknown): ConvexInstance => {
  const object = manifest as ConvexInstanceEncoded
  const decoded = decodeConvexInstance({
    ...object,
    metadata: { namespace: "convex", uid: "6f1c1d2e-0000-4000-8000-000000000001", generation: 1, ...object.metadata }
  })
  if (Either.isLeft(decoded)) throw new Error(decoded.left.message)
  return decoded.right
}

/** The samples of examples/, decoded. */
export const examples = (): ReadonlyArray<{ readonly source: string; readonly instance: ConvexInstance }> =>
  convexInstances("examples").map((manifest) => ({ source: manifest.source, instance: instanceOf(manifest.object) }))

/** The sample named `name`. */
export const example = (name: string): ConvexInstance => {
  const found = examples().find((sample) => sample.instance.metadata.name === name)
  if (found === undefined) throw new Error(`no sample ${name}`)
  return found.instance
}

/** A minimal instance with `spec` merged over the required fields. */
export const minimal = (spec: Record<string, unknown> = {}, name = "demo"): ConvexInstance =>
  instanceOf({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name },
    spec: { environment: "dev", version: "0123456789abcdef0123456789abcdef01234567", ...spec }
  })

/** A Secret as the apiserver returns it. */
export const secret = (name: string, data: Record<string, string>, namespace = "convex"): KubeObject => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name, namespace, resourceVersion: "1" },
  type: "Opaque",
  data: Object.fromEntries(Object.entries(data).map(([key, value]) => [key, toBase64(value)]))
})

/** A ConfigMap as the apiserver returns it. */
export const configMap = (name: string, data: Record<string, string>, namespace = "convex"): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace, resourceVersion: "1" },
  data
})

/** The referenced Secrets of the samples, holding valid values. */
export const sampleReferences: ReadonlyArray<KubeObject> = [
  secret("convex-prod-db", { url: "postgres://convex:pg-password-1@pg.db.svc:5432" }),
  secret("convex-prod-s3", { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "s3-secret-access-key-1" }),
  secret("convex-obc-db", { url: "postgres://convex:pg-password-2@pg.db.svc:5432" }),
  secret("convex-obc-bucket", { AWS_ACCESS_KEY_ID: "OBCKEYID", AWS_SECRET_ACCESS_KEY: "obc-secret-access-key" }),
  configMap("convex-obc-bucket", {
    BUCKET_NAME: "convex-obc-1234",
    BUCKET_HOST: "rook-ceph-rgw.rook-ceph.svc",
    BUCKET_PORT: "80",
    BUCKET_REGION: ""
  }),
  secret("convex-app-db", { url: "postgres://convex:pg-password-3@pg-rw:5432" }),
  secret("pg-ca", {
    "ca.crt": "-----BEGIN CERTIFICATE-----\nCNPG CA\n-----END CERTIFICATE-----\n",
    "ca.key": "CA KEY"
  }),
  secret("convex-minio-db", { url: "postgres://convex:pg-password-4@pg.db.svc:5432" }),
  secret("convex-minio-s3", { accessKeyId: "MINIOKEYID", secretAccessKey: "minio-secret-access-key" }),
  configMap("minio-ca", { "ca.crt": "-----BEGIN CERTIFICATE-----\nMINIO CA\n-----END CERTIFICATE-----\n" }),
  secret("convex-dev-tls", { "tls.crt": "CERT", "tls.key": "KEY" }),
  secret("convex-obc-tls", { "tls.crt": "CERT", "tls.key": "KEY" })
]

type Json = Record<string, unknown>

const conditions = (generation: number, ...types: ReadonlyArray<string>) =>
  types.map((type) => ({ type, status: "True", reason: type, message: "", observedGeneration: generation }))

/**
 * What a healthy cluster makes of applied objects: generation 1, and status saying that workloads are rolled out
 * and ready, Gateways accepted and programmed, routes accepted by their parents, Jobs complete.
 */
export const simulateCluster = (objects: ReadonlyArray<KubeObject>): ReadonlyArray<KubeObject> =>
  objects.map((object) => {
    const metadata = { ...object.metadata, generation: 1, uid: `uid-${object.kind}-${object.metadata.name}` }
    const spec = object.spec as Json | undefined
    switch (object.kind) {
      case "StatefulSet":
        return {
          ...object,
          metadata,
          status: {
            observedGeneration: 1,
            replicas: 1,
            readyReplicas: 1,
            updatedReplicas: 1,
            currentRevision: "r1",
            updateRevision: "r1"
          }
        }
      case "Deployment": {
        const replicas = spec?.replicas as number
        return {
          ...object,
          metadata,
          status: {
            observedGeneration: 1,
            replicas,
            readyReplicas: replicas,
            updatedReplicas: replicas,
            availableReplicas: replicas
          }
        }
      }
      case "Gateway":
        return {
          ...object,
          metadata,
          status: {
            conditions: conditions(1, "Accepted", "Programmed"),
            listeners: ((spec?.listeners as ReadonlyArray<Json>) ?? []).map((listener) => ({
              name: listener.name,
              conditions: conditions(1, "Accepted", "Programmed", "ResolvedRefs")
            }))
          }
        }
      case "HTTPRoute":
        return {
          ...object,
          metadata,
          status: {
            parents: ((spec?.parentRefs as ReadonlyArray<Json>) ?? []).map((parentRef) => ({
              parentRef,
              controllerName: "example.com/gateway",
              conditions: conditions(1, "Accepted", "ResolvedRefs")
            }))
          }
        }
      case "Job":
        return { ...object, metadata, status: { succeeded: 1, conditions: [{ type: "Complete", status: "True" }] } }
      case "PersistentVolumeClaim":
        return { ...object, metadata, status: { phase: "Bound" } }
      default:
        return { ...object, metadata }
    }
  })

/**
 * Runs decisions until the cluster settles: each round applies what the previous decision asked for (through
 * `simulateCluster`) and feeds back the status. Returns the last decision and the objects it observed.
 */
export const settle = (
  instance: ConvexInstance,
  references: ReadonlyArray<KubeObject> = sampleReferences,
  rounds = 4,
  at: Date = now
): { readonly decision: Decision; readonly instance: ConvexInstance; readonly objects: ReadonlyArray<KubeObject> } => {
  let current = instance
  let objects: ReadonlyArray<KubeObject> = []
  let decision = decide(current, { objects: [...references, ...objects], entropy }, at)
  for (let round = 0; round < rounds; round++) {
    objects = simulateCluster(decision.desired)
    current = { ...current, status: decision.status }
    decision = decide(current, { objects: [...references, ...objects], entropy: otherEntropy }, at)
  }
  return { decision, instance: current, objects: [...references, ...objects] }
}

/** The desired object of `kind` and `name` (throws when absent). */
export const find = <K extends string>(decision: Decision, kind: K, name: string) => {
  const found = decision.desired.find((object) => object.kind === kind && object.metadata.name === name)
  if (found === undefined)
    throw new Error(`no ${kind}/${name} in ${decision.desired.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`)
  return found as Extract<Decision["desired"][number], { kind: K }>
}

/**
 * `decide` with the moves the operator's saga fibers would propose from the same observations (the upgrade's next
 * step, a due restart, the end of a restore's import): what one reconcile decides once the sagas have seen what it
 * observed.
 */
export const decideWithSagas = (
  instance: ConvexInstance,
  observed: Observed,
  at: Date,
  options?: DecideOptions
): Decision =>
  decide(
    instance,
    {
      ...observed,
      upgradeMove: upgradeNext(instance, observed.objects, at).move,
      restartMove: restartNext(instance, observed.objects, at).move,
      restoreMove: restoreNext(instance, observed.objects, at)
    },
    at,
    options
  )
