/**
 * S3 wiring of the backend. Convex uses S3 only when `AWS_REGION` and all five `S3_STORAGE_*_BUCKET` variables
 * are set (with one missing it silently falls back to local storage), so every one is always wired when S3 is
 * enabled. Literal values and values read from ConfigMaps (an ObjectBucketClaim's bucket, host, port, region)
 * are not secret and go to the backend ConfigMap; values held in Secrets stay there and reach the container
 * through `secretKeyRef`.
 *
 * @module
 */
import type { BackendS3Spec, EnvVar } from "../api/index.js"
import type { ObservedIndex } from "./observed.js"

/** The five bucket variables, by the `buckets` field that names each. */
export const s3BucketVariables = {
  exports: "S3_STORAGE_EXPORTS_BUCKET",
  snapshotImports: "S3_STORAGE_SNAPSHOT_IMPORTS_BUCKET",
  modules: "S3_STORAGE_MODULES_BUCKET",
  files: "S3_STORAGE_FILES_BUCKET",
  search: "S3_STORAGE_SEARCH_BUCKET"
} as const

/** The region used with a custom endpoint (MinIO, Ceph RGW) when none is given: such servers ignore it. */
export const defaultCustomEndpointRegion = "us-east-1"

/** The S3 part of the backend environment. */
export interface S3Wiring {
  /** Non-secret variables for the backend ConfigMap. */
  readonly config: Readonly<Record<string, string>>
  /** Variables read from the S3 Secret. */
  readonly env: ReadonlyArray<EnvVar>
}

const secretRef = (name: string, secret: string, key: string): EnvVar => ({
  name,
  valueFrom: { secretKeyRef: { name: secret, key } }
})

/** The ConfigMap S3 metadata is read from: `configMapRef`, or with `autoDetectOBC` the one named like `secretRef`. */
export const s3ConfigMapName = (s3: BackendS3Spec): string | undefined =>
  s3.configMapRef ?? (s3.autoDetectOBC ? s3.secretRef : undefined)

/** The S3 wiring of a spec, reading ConfigMap values from what was observed. Empty when S3 is disabled. */
export const s3Wiring = (s3: BackendS3Spec, observed: ObservedIndex): S3Wiring => {
  if (!s3.enabled || s3.secretRef === undefined) return { config: {}, env: [] }
  const secretName = s3.secretRef
  const configMapName = s3ConfigMapName(s3)
  const configMap = configMapName === undefined ? undefined : observed.configMapData(configMapName)
  const fromConfigMap = (key: string | undefined): string | undefined =>
    key === undefined ? undefined : nonEmpty(configMap?.[key])
  const obc = (key: string): string | undefined => (s3.autoDetectOBC ? fromConfigMap(key) : undefined)

  const config: Record<string, string> = {}
  const env: Array<EnvVar> = []
  /** A value given inline, in the ConfigMap under `key`, or (last) in the Secret under `key`. */
  const wire = (variable: string, inline: string | undefined, key: string | undefined, obcKey?: string): boolean => {
    const value = inline ?? fromConfigMap(key) ?? (key === undefined && obcKey !== undefined ? obc(obcKey) : undefined)
    if (value !== undefined) {
      config[variable] = value
      return true
    }
    if (key !== undefined) {
      env.push(secretRef(variable, secretName, key))
      return true
    }
    return false
  }

  // Endpoint: inline, a Secret key, host (+ port) from the ConfigMap, or the claim's BUCKET_HOST/BUCKET_PORT.
  const host = fromConfigMap(s3.endpointHostKey) ?? (s3.endpointHostKey === undefined ? obc("BUCKET_HOST") : undefined)
  const port = fromConfigMap(s3.endpointPortKey) ?? (s3.endpointPortKey === undefined ? obc("BUCKET_PORT") : undefined)
  const builtEndpoint =
    host === undefined ? undefined : `${s3.endpointScheme}://${host}${port === undefined ? "" : `:${port}`}`
  const hasEndpoint = wire("S3_ENDPOINT_URL", s3.endpoint ?? builtEndpoint, s3.endpointKey)

  if (!wire("AWS_REGION", s3.region, s3.regionKey, "BUCKET_REGION") && hasEndpoint) {
    config.AWS_REGION = defaultCustomEndpointRegion
  }
  for (const [field, variable] of Object.entries(s3BucketVariables)) {
    const own = s3.buckets?.[field as keyof typeof s3BucketVariables]
    wire(variable, own ?? s3.bucket, own === undefined ? s3.bucketKey : undefined, "BUCKET_NAME")
  }
  if (s3.forcePathStyle !== undefined) config.AWS_S3_FORCE_PATH_STYLE = String(s3.forcePathStyle)

  // Credentials: the named keys, or the claim's AWS_* keys when present (otherwise the AWS default chain).
  const secret = observed.secretData(secretName)
  const credential = (variable: string, key: string | undefined) => {
    if (key !== undefined) env.push(secretRef(variable, secretName, key))
    else if (secret?.[variable] !== undefined) env.push(secretRef(variable, secretName, variable))
  }
  credential("AWS_ACCESS_KEY_ID", s3.accessKeyIdKey)
  credential("AWS_SECRET_ACCESS_KEY", s3.secretAccessKeyKey)
  return { config, env }
}

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === "" ? undefined : value
