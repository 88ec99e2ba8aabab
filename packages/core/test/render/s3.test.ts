import { type BackendS3Spec, BackendS3Spec as S3Schema } from "@convex-operator/core"
import { indexObserved, s3Wiring } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { configMap, secret } from "../decide/support.js"

const s3 = (fields: Record<string, unknown>): BackendS3Spec =>
  Schema.decodeUnknownSync(S3Schema)({ enabled: true, ...fields })
const buckets = (name: string) => ({
  S3_STORAGE_EXPORTS_BUCKET: name,
  S3_STORAGE_FILES_BUCKET: name,
  S3_STORAGE_MODULES_BUCKET: name,
  S3_STORAGE_SEARCH_BUCKET: name,
  S3_STORAGE_SNAPSHOT_IMPORTS_BUCKET: name
})

describe("S3 wiring", () => {
  it("is empty when S3 is disabled", () => {
    expect(s3Wiring(s3({ enabled: false }), indexObserved([]))).toEqual({ config: {}, env: [] })
  })

  it("wires every bucket, the region and the endpoint; credentials by secretKeyRef", () => {
    const wiring = s3Wiring(
      s3({
        secretRef: "creds",
        accessKeyIdKey: "id",
        secretAccessKeyKey: "key",
        bucket: "main",
        buckets: { exports: "exp" },
        region: "eu-west-1",
        endpoint: "https://minio:9000",
        forcePathStyle: true
      }),
      indexObserved([])
    )
    expect(wiring.config).toEqual({
      ...buckets("main"),
      S3_STORAGE_EXPORTS_BUCKET: "exp",
      AWS_REGION: "eu-west-1",
      S3_ENDPOINT_URL: "https://minio:9000",
      AWS_S3_FORCE_PATH_STYLE: "true"
    })
    expect(wiring.env).toEqual([
      { name: "AWS_ACCESS_KEY_ID", valueFrom: { secretKeyRef: { name: "creds", key: "id" } } },
      { name: "AWS_SECRET_ACCESS_KEY", valueFrom: { secretKeyRef: { name: "creds", key: "key" } } }
    ])
  })

  it("keeps values held in the Secret there (bucketKey, regionKey, endpointKey)", () => {
    const wiring = s3Wiring(
      s3({ secretRef: "creds", bucketKey: "bucket", regionKey: "region", endpointKey: "endpoint" }),
      indexObserved([])
    )
    expect(wiring.config).toEqual({})
    expect(wiring.env.map((entry) => [entry.name, entry.valueFrom?.secretKeyRef?.key])).toEqual([
      ["S3_ENDPOINT_URL", "endpoint"],
      ["AWS_REGION", "region"],
      ["S3_STORAGE_EXPORTS_BUCKET", "bucket"],
      ["S3_STORAGE_SNAPSHOT_IMPORTS_BUCKET", "bucket"],
      ["S3_STORAGE_MODULES_BUCKET", "bucket"],
      ["S3_STORAGE_FILES_BUCKET", "bucket"],
      ["S3_STORAGE_SEARCH_BUCKET", "bucket"]
    ])
  })

  it("reads an ObjectBucketClaim's ConfigMap and uses its AWS_* Secret keys", () => {
    const observed = indexObserved([
      configMap("obc", { BUCKET_NAME: "b-123", BUCKET_HOST: "rgw.svc", BUCKET_PORT: "8080", BUCKET_REGION: "" }),
      secret("obc", { AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "key" })
    ])
    const wiring = s3Wiring(s3({ secretRef: "obc", forcePathStyle: true }), observed)
    expect(wiring.config).toEqual({
      ...buckets("b-123"),
      S3_ENDPOINT_URL: "http://rgw.svc:8080",
      AWS_REGION: "us-east-1",
      AWS_S3_FORCE_PATH_STYLE: "true"
    })
    expect(wiring.env.map((entry) => entry.name)).toEqual(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
  })

  it("builds the endpoint from configMapRef host and port keys with the scheme", () => {
    const observed = indexObserved([configMap("meta", { host: "s3.local", port: "443" })])
    const wiring = s3Wiring(
      s3({
        secretRef: "creds",
        configMapRef: "meta",
        endpointHostKey: "host",
        endpointPortKey: "port",
        endpointScheme: "https",
        bucket: "b",
        region: "r"
      }),
      observed
    )
    expect(wiring.config.S3_ENDPOINT_URL).toBe("https://s3.local:443")
  })

  it("leaves the AWS default chain alone when the Secret has no credentials", () => {
    const wiring = s3Wiring(
      s3({ secretRef: "empty", bucket: "b", region: "r", autoDetectOBC: false }),
      indexObserved([secret("empty", {})])
    )
    expect(wiring.env).toEqual([])
  })
})
