import {
  type ConvexInstance,
  ConvexInstanceSpec,
  childNames,
  decide,
  type KubeObject,
  secretKeys
} from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { secret } from "./support.js"

const marker = "SECRETMARKER"
const now = new Date("2025-06-01T12:00:00Z")

const instanceWith = (spec: ConvexInstanceSpec): ConvexInstance => ({
  apiVersion: "convex.icod.de/v1alpha1",
  kind: "ConvexInstance",
  metadata: { name: "demo", namespace: "convex", uid: "uid-demo", generation: 3 },
  spec
})

/** Every Secret the spec refers to, holding marked values (a database URL with a marked password). */
const referencedSecrets = (spec: ConvexInstanceSpec, present: ReadonlyArray<boolean>): ReadonlyArray<KubeObject> => {
  const byName = new Map<string, Record<string, string>>()
  const add = (name: string | undefined, key: string | undefined, value = `${marker}-${key}`) => {
    if (name === undefined || key === undefined) return
    byName.set(name, { ...byName.get(name), [key]: value })
  }
  const { db, s3 } = spec.backend
  add(db.secretRef, db.urlKey, `${db.engine === "mysql" ? "mysql" : "postgres"}://user:${marker}pw@db.example:5432`)
  for (const key of [s3.accessKeyIdKey, s3.secretAccessKeyKey, s3.endpointKey, s3.bucketKey, s3.regionKey])
    add(s3.secretRef, key)
  add(s3.secretRef, "AWS_ACCESS_KEY_ID")
  for (const entry of spec.backend.env ?? [])
    add(entry.valueFrom?.secretKeyRef?.name, entry.valueFrom?.secretKeyRef?.key)
  const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
  add(db.caSecretRef, db.caKey ?? "ca.crt", pem)
  add(s3.caSecretRef, s3.caKey ?? "ca.crt", pem)
  add(spec.networking?.tlsSecretRef, "tls.crt")
  add(spec.networking?.tlsSecretRef, "tls.key")
  // An existing instance secret (64 hex characters), and the instance name it was used with.
  const { instanceSecretRef } = spec.backend
  add(instanceSecretRef?.name, instanceSecretRef?.key, "5e".repeat(32))
  add(instanceSecretRef?.name, instanceSecretRef?.nameKey, db.databaseName?.replaceAll("_", "-") ?? "demo")
  return [...byName]
    .filter((_, index) => present[index % Math.max(1, present.length)] !== false)
    .map(([name, data]) => secret(name, data))
}

/**
 * The spec with every reference satisfiable by `referencedSecrets`: no env refs, S3 with a bucket and a region, CA
 * bundles in Secrets only, an existing instance secret in a Secret of its own.
 */
const healthy = (spec: ConvexInstanceSpec): ConvexInstanceSpec => {
  const { s3 } = spec.backend
  const {
    configMapRef: _configMapRef,
    endpointHostKey: _host,
    endpointPortKey: _port,
    caConfigMapRef: _s3Ca,
    ...rest
  } = s3
  const { caConfigMapRef: _dbCa, ...db } = spec.backend.db
  const { instanceSecretRef } = spec.backend
  return {
    ...spec,
    backend: {
      ...spec.backend,
      // A Secret of its own, so that no other reference's key collides with the instance secret's.
      ...(instanceSecretRef !== undefined
        ? { instanceSecretRef: { ...instanceSecretRef, name: "instance-secret-of-old" } }
        : {}),
      db,
      env: (spec.backend.env ?? []).filter((entry) => entry.valueFrom === undefined),
      s3: {
        ...rest,
        autoDetectOBC: false,
        ...(s3.bucketKey === undefined ? { bucket: s3.bucket ?? "bucket" } : {}),
        ...(s3.regionKey === undefined ? { region: s3.region ?? "us-east-1" } : {})
      }
    }
  }
}

const Entropy = fc.record({
  instanceSecret: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  adminKeyNonce: fc.uint8Array({ minLength: 12, maxLength: 12 })
})

const secretValues = (generated: KubeObject | undefined): ReadonlyArray<string> => {
  const data = (generated?.data ?? {}) as Record<string, string>
  const decoded = Object.values(data).map((value) => Buffer.from(value, "base64").toString("utf8"))
  return [marker, ...decoded, ...Object.values(data)]
}

describe("decide over Schema-derived specs", () => {
  it.prop(
    "never throws, is deterministic, keeps one backend replica, leaks no secret and routes only at /",
    [ConvexInstanceSpec, Entropy, fc.array(fc.boolean(), { maxLength: 4 })],
    ([spec, entropy, present]) => {
      const instance = instanceWith(spec)
      const objects = referencedSecrets(spec, present)
      const decision = decide(instance, { objects, entropy }, now)
      expect(decide(instance, { objects, entropy }, now)).toEqual(decision)
      // Plain JSON: no undefined fields, nothing that does not survive serialization.
      expect(JSON.parse(JSON.stringify(decision.desired))).toStrictEqual(decision.desired)

      const statefulSets = decision.desired.filter((object) => object.kind === "StatefulSet")
      expect(statefulSets.length).toBeLessThanOrEqual(1)
      for (const statefulSet of statefulSets) expect(statefulSet.spec.replicas).toBe(1)
      const held = decision.status.conditions?.find((c) => c.type === "StatefulSetReady")?.reason === "ValidationFailed"
      expect(statefulSets.length).toBe(held ? 0 : 1)

      const generated = decision.desired.find(
        (o) => o.kind === "Secret" && o.metadata.name === childNames("demo").secrets
      )
      const forbidden = secretValues(generated)
      const configMaps = decision.desired.filter((object) => object.kind === "ConfigMap")
      const visible = JSON.stringify([configMaps, decision.status, decision.events])
      for (const value of forbidden) expect(visible).not.toContain(value)
      expect(Object.keys((generated?.data ?? {}) as object).sort()).toEqual([
        secretKeys.adminKey,
        secretKeys.instanceSecret
      ])

      for (const object of decision.desired) {
        // Everything forwarded is forwarded at /; the one other path is /metrics, forwarded nowhere.
        if (object.kind === "HTTPRoute") {
          for (const rule of object.spec.rules) {
            for (const match of rule.matches) {
              expect(match.path.value).toBe(
                rule.backendRefs === undefined && rule.filters === undefined ? "/metrics" : "/"
              )
            }
          }
        }
        if (object.kind === "Ingress") {
          for (const rule of object.spec.rules) {
            for (const path of rule.http.paths) {
              // The site host's own Ingress matches everything as /(.*): ingress-nginx's rewrite reads the group.
              const expected =
                path.backend.service.name === childNames("demo").metricsBlocked
                  ? "/metrics"
                  : object.metadata.name === childNames("demo").siteIngress
                    ? "/(.*)"
                    : "/"
              expect(path.path).toBe(expected)
            }
          }
        }
      }
    }
  )

  it.prop(
    "reaches its fixed point: what was rendered, fed back, needs no apply and no status change",
    [ConvexInstanceSpec, Entropy, Entropy],
    ([raw, first, second]) => {
      const spec = healthy(raw)
      const instance = instanceWith(spec)
      const references = referencedSecrets(spec, [true])
      const one = decide(instance, { objects: references, entropy: first }, now)
      expect(
        one.desired.filter((object) => object.kind === "StatefulSet").map((object) => object.spec.replicas)
      ).toEqual([1])
      const observed = [...references, ...one.desired]
      const two = decide({ ...instance, status: one.status }, { objects: observed, entropy: second }, now)
      expect(two.apply).toEqual([])
      expect(two.delete).toEqual([])
      const three = decide({ ...instance, status: two.status }, { objects: observed, entropy: second }, now)
      expect(three.apply).toEqual([])
      expect(three.statusChanged).toBe(false)
      expect(three.events).toEqual([])
    }
  )
})
