/**
 * Private certificate authorities for the database and S3 (CloudNativePG, an in-cluster MinIO): a PEM bundle in a
 * Secret or ConfigMap key, mounted read-only in the backend at `/convex/tls/<db|s3>/ca.crt` and named to the
 * variables Convex's clients actually read.
 *
 * - Database: Postgres adds the file named by `PG_CA_FILE` to the system roots (get-convex/convex-backend
 *   crates/postgres/src/lib.rs, `create_pool`); MySQL uses the file named by `MYSQL_CA_FILE`, which also turns TLS
 *   on unless the URL says `require_ssl=false` (crates/mysql/src/connection.rs, `ConvexMySqlPool::new`).
 * - S3: the AWS SDK's rustls client trusts what `rustls_native_certs::load_native_certs` returns
 *   (aws-smithy-http-client, tls/rustls_provider.rs). Once `SSL_CERT_FILE` or `SSL_CERT_DIR` is set, that function
 *   reads only those locations and not the platform store (rustls-native-certs 0.8, `CertPaths::load`), so
 *   `SSL_CERT_FILE` names the private bundle and `SSL_CERT_DIR` the image's own hashed root directory
 *   (`/etc/ssl/certs` in Convex's Ubuntu image): both are loaded, and public endpoints stay trusted. The Node
 *   process that runs "use node" actions downloads its code from S3 with `fetch`
 *   (npm-packages/node-executor/src/source_package.ts) and inherits the backend's environment, so
 *   `NODE_EXTRA_CA_CERTS` names the bundle too. These variables also reach Postgres's root loading, which then
 *   sees the same system roots plus the S3 CA, and which fails the connection on any loading error (`create_pool`
 *   ensures there is none): an image without `/etc/ssl/certs` cannot use an S3 CA together with Postgres.
 *
 * The bundle's content is part of the backend's configuration hash (Convex reads it once at start), so a new CA
 * rolls the pod.
 *
 * @module
 */
import type { ConvexInstance } from "../api/index.js"
import type { KeyToPath, Volume } from "./objects.js"
import type { ObservedIndex } from "./observed.js"

/** The key a CA bundle is read from when the spec names none (cert-manager's and CloudNativePG's). */
export const defaultCaKey = "ca.crt"

/** Where the image keeps its system roots as OpenSSL hash links (Ubuntu's `update-ca-certificates`). */
export const systemCertificateDir = "/etc/ssl/certs"

/** The two bundles an instance may name. */
export type CaPurpose = "db" | "s3"

/** A CA bundle reference: the object, its key, and the spec field naming it. */
export interface CaBundle {
  readonly purpose: CaPurpose
  readonly kind: "Secret" | "ConfigMap"
  readonly name: string
  readonly key: string
  /** `spec.backend.<db|s3>.caSecretRef` or `…caConfigMapRef`. */
  readonly field: string
}

interface CaFields {
  readonly caSecretRef?: string | undefined
  readonly caConfigMapRef?: string | undefined
  readonly caKey?: string | undefined
}

const bundleOf = (purpose: CaPurpose, fields: CaFields): CaBundle | undefined => {
  const key = fields.caKey ?? defaultCaKey
  if (fields.caSecretRef !== undefined) {
    return { purpose, kind: "Secret", name: fields.caSecretRef, key, field: `spec.backend.${purpose}.caSecretRef` }
  }
  if (fields.caConfigMapRef !== undefined) {
    return {
      purpose,
      kind: "ConfigMap",
      name: fields.caConfigMapRef,
      key,
      field: `spec.backend.${purpose}.caConfigMapRef`
    }
  }
  return undefined
}

/** The CA bundles the backend uses: the database's (postgres/mysql only) and S3's (when S3 is enabled). */
export const caBundles = (instance: ConvexInstance): ReadonlyArray<CaBundle> => {
  const { db, s3 } = instance.spec.backend
  return [db.engine === "sqlite" ? undefined : bundleOf("db", db), s3.enabled ? bundleOf("s3", s3) : undefined].filter(
    (bundle): bundle is CaBundle => bundle !== undefined
  )
}

/** The file a bundle is mounted as in the backend container. */
export const caFilePath = (purpose: CaPurpose): string => `/convex/tls/${purpose}/ca.crt`

const volumeName = (purpose: CaPurpose) => `${purpose}-ca`

/** The volumes and mounts of the bundles (read-only, one file each). */
export const caVolumes = (
  bundles: ReadonlyArray<CaBundle>
): {
  readonly volumes: ReadonlyArray<Volume>
  readonly mounts: ReadonlyArray<{ readonly name: string; readonly mountPath: string; readonly readOnly: true }>
} => ({
  volumes: bundles.map((bundle): Volume => {
    const items: ReadonlyArray<KeyToPath> = [{ key: bundle.key, path: "ca.crt" }]
    return bundle.kind === "Secret"
      ? { name: volumeName(bundle.purpose), secret: { secretName: bundle.name, items } }
      : { name: volumeName(bundle.purpose), configMap: { name: bundle.name, items } }
  }),
  mounts: bundles.map((bundle) => ({
    name: volumeName(bundle.purpose),
    mountPath: `/convex/tls/${bundle.purpose}`,
    readOnly: true as const
  }))
})

/** The backend variables that point Convex's clients at the bundles (see the module comment for each). */
export const caEnvironment = (instance: ConvexInstance): Readonly<Record<string, string>> => {
  const config: Record<string, string> = {}
  for (const bundle of caBundles(instance)) {
    if (bundle.purpose === "db") {
      config[instance.spec.backend.db.engine === "mysql" ? "MYSQL_CA_FILE" : "PG_CA_FILE"] = caFilePath("db")
    } else {
      config.SSL_CERT_FILE = caFilePath("s3")
      config.SSL_CERT_DIR = systemCertificateDir
      config.NODE_EXTRA_CA_CERTS = caFilePath("s3")
    }
  }
  return config
}

const dataOf = (bundle: CaBundle, observed: ObservedIndex) =>
  bundle.kind === "Secret" ? observed.secretData(bundle.name) : observed.configMapData(bundle.name)

/** The bundles' contents (null when absent), for the configuration hash only. */
export const caContents = (instance: ConvexInstance, observed: ObservedIndex): ReadonlyArray<unknown> =>
  caBundles(instance).map((bundle) => [
    bundle.purpose,
    bundle.kind,
    bundle.name,
    dataOf(bundle, observed)?.[bundle.key] ?? null
  ])

/** What is wrong with each bundle reference: the object or its key is missing, or the key holds no certificate. */
export const caProblems = (
  instance: ConvexInstance,
  observed: ObservedIndex
): ReadonlyArray<{ readonly field: string; readonly message: string }> =>
  caBundles(instance).flatMap((bundle) => {
    const data = dataOf(bundle, observed)
    const what = bundle.purpose === "db" ? "the database server's CA" : "the S3 endpoint's CA"
    if (data === undefined) {
      return [
        {
          field: bundle.field,
          message: `${bundle.kind} "${bundle.name}" does not exist: create it with ${what} (PEM) under key "${bundle.key}"`
        }
      ]
    }
    const value = data[bundle.key]
    if (value === undefined) {
      return [
        {
          field: bundle.field,
          message: `${bundle.kind} "${bundle.name}" has no key "${bundle.key}" (set caKey to the key that holds ${what})`
        }
      ]
    }
    if (!value.includes("-----BEGIN CERTIFICATE-----")) {
      return [
        {
          field: bundle.field,
          message: `${bundle.kind} "${bundle.name}" key "${bundle.key}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`
        }
      ]
    }
    return []
  })
