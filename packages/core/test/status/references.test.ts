import type { KubeObject } from "@convex-operator/core"
import {
  backendEnvironment,
  indexObserved,
  instanceReferences,
  instanceUrls,
  validateReferences
} from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { configMap, example, minimal, secret } from "../decide/support.js"

const problems = (spec: Record<string, unknown>, objects: ReadonlyArray<KubeObject>) => {
  const instance = minimal(spec)
  const observed = indexObserved(objects)
  return validateReferences(
    instance,
    observed,
    backendEnvironment(instance, instanceUrls(instance, "convex"), observed)
  )
}

describe("reference validation", () => {
  it("S3: the Secret, its named keys, a region and every bucket", () => {
    const s3 = { enabled: true, secretRef: "s3", accessKeyIdKey: "id", secretAccessKeyKey: "key", autoDetectOBC: false }
    expect(problems({ backend: { s3 } }, []).map((p) => p.field)).toEqual([
      "spec.backend.s3.secretRef",
      "spec.backend.s3.region",
      "spec.backend.s3.buckets.exports",
      "spec.backend.s3.buckets.snapshotImports",
      "spec.backend.s3.buckets.modules",
      "spec.backend.s3.buckets.files",
      "spec.backend.s3.buckets.search"
    ])
    const keyMissing = problems({ backend: { s3: { ...s3, bucket: "b", region: "r" } } }, [secret("s3", { id: "x" })])
    expect(keyMissing.map((p) => p.message)).toEqual(['Secret "s3" has no key "key" (for AWS_SECRET_ACCESS_KEY)'])
    expect(
      problems({ backend: { s3: { ...s3, bucket: "b", region: "r" } } }, [secret("s3", { id: "x", key: "y" })])
    ).toEqual([])
  })

  it("S3: a configMapRef must exist and hold the host and port keys", () => {
    const s3 = {
      enabled: true,
      secretRef: "s3",
      configMapRef: "meta",
      endpointHostKey: "host",
      endpointPortKey: "port",
      bucket: "b",
      region: "r"
    }
    expect(problems({ backend: { s3 } }, [secret("s3", {})]).map((p) => p.message)).toEqual([
      'ConfigMap "meta" does not exist'
    ])
    expect(
      problems({ backend: { s3 } }, [secret("s3", {}), configMap("meta", { host: "h" })]).map((p) => p.message)
    ).toEqual(['ConfigMap "meta" has no key "port"'])
  })

  it("TLS: a Secret without tls.crt/tls.key is reported but does not block the backend", () => {
    const found = problems({ networking: { host: "a.x.io", tlsSecretRef: "t" } }, [secret("t", { "tls.crt": "c" })])
    expect(found).toEqual([
      {
        field: "spec.networking.tlsSecretRef",
        message: 'Secret "t" is not a TLS Secret: it has no key "tls.key"',
        blocking: false
      }
    ])
  })

  it("MySQL URLs are checked as MySQL URLs", () => {
    const spec = { backend: { db: { engine: "mysql", secretRef: "db", urlKey: "url" }, storage: { mode: "external" } } }
    expect(problems(spec, [secret("db", { url: "postgres://u:p@h:5432" })])[0]?.message).toContain(
      "MYSQL_URL uses the scheme postgres:"
    )
    expect(problems(spec, [secret("db", { url: "mysql://u:p@h:3306" })])).toEqual([])
  })
})

describe("instance references", () => {
  it("name every Secret and ConfigMap the samples read", () => {
    expect(instanceReferences(example("convex-prod"))).toEqual({
      secrets: ["convex-prod-db", "convex-prod-s3"],
      configMaps: ["convex-prod-s3"]
    })
    expect(instanceReferences(example("convex-obc"))).toEqual({
      secrets: ["convex-obc-bucket", "convex-obc-db", "convex-obc-tls"],
      configMaps: ["convex-obc-bucket"]
    })
    expect(instanceReferences(example("hello"))).toEqual({ secrets: [], configMaps: [] })
  })
})
