import { configHashAnnotation, decide } from "@convex-operator/core"
import { instanceReferences, type StatefulSet } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { configMap, entropy, minimal, now, secret } from "../decide/support.js"

const pem = (name: string) => `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n`

const postgresWithCa = (extra: Record<string, unknown> = {}) =>
  minimal({
    backend: {
      db: { engine: "postgres", secretRef: "pg-app", urlKey: "uri", caSecretRef: "pg-ca", ...extra },
      storage: { mode: "external" }
    }
  })

const s3WithCa = minimal({
  backend: {
    s3: {
      enabled: true,
      secretRef: "minio",
      autoDetectOBC: false,
      endpoint: "https://minio.storage.svc:9000",
      bucket: "convex",
      region: "us-east-1",
      accessKeyIdKey: "access",
      secretAccessKeyKey: "secret",
      caConfigMapRef: "minio-ca",
      caKey: "public.crt"
    }
  }
})

const pgObjects = (ca = pem("pg")) => [
  secret("pg-app", { uri: "postgres://app:pw@pg-rw.db.svc:5432" }),
  secret("pg-ca", { "ca.crt": ca })
]
const s3Objects = (ca = pem("minio")) => [
  secret("minio", { access: "a", secret: "s" }),
  configMap("minio-ca", { "public.crt": ca })
]

const statefulSetOf = (decision: ReturnType<typeof decide>) =>
  decision.desired.find((object): object is StatefulSet => object.kind === "StatefulSet")
const configOf = (decision: ReturnType<typeof decide>) => {
  const found = decision.desired.find(
    (object) => object.kind === "ConfigMap" && object.metadata.name === "demo-backend-config"
  )
  return (found as { data: Record<string, string> } | undefined)?.data ?? {}
}

describe("CA bundles", () => {
  it("mount the database CA read-only and point PG_CA_FILE at it", () => {
    const decision = decide(postgresWithCa(), { objects: pgObjects(), entropy }, now)
    const pod = statefulSetOf(decision)?.spec.template.spec
    expect(pod?.volumes).toContainEqual({
      name: "db-ca",
      secret: { secretName: "pg-ca", items: [{ key: "ca.crt", path: "ca.crt" }] }
    })
    expect(pod?.containers[0]?.volumeMounts).toContainEqual({
      name: "db-ca",
      mountPath: "/convex/tls/db",
      readOnly: true
    })
    expect(configOf(decision).PG_CA_FILE).toBe("/convex/tls/db/ca.crt")
    expect(configOf(decision).MYSQL_CA_FILE).toBeUndefined()
    expect(configOf(decision).SSL_CERT_FILE).toBeUndefined()
  })

  it("use MYSQL_CA_FILE for MySQL", () => {
    const instance = minimal({
      backend: {
        db: { engine: "mysql", secretRef: "my", urlKey: "url", caSecretRef: "my-ca" },
        storage: { mode: "external" }
      }
    })
    const objects = [secret("my", { url: "mysql://app:pw@mysql:3306" }), secret("my-ca", { "ca.crt": pem("my") })]
    const decision = decide(instance, { objects, entropy }, now)
    expect(configOf(decision).MYSQL_CA_FILE).toBe("/convex/tls/db/ca.crt")
    expect(configOf(decision).PG_CA_FILE).toBeUndefined()
  })

  it("give the S3 CA to the AWS SDK's roots (with the system roots kept) and to Node", () => {
    const decision = decide(s3WithCa, { objects: s3Objects(), entropy }, now)
    const pod = statefulSetOf(decision)?.spec.template.spec
    expect(pod?.volumes).toContainEqual({
      name: "s3-ca",
      configMap: { name: "minio-ca", items: [{ key: "public.crt", path: "ca.crt" }] }
    })
    expect(pod?.containers[0]?.volumeMounts).toContainEqual({
      name: "s3-ca",
      mountPath: "/convex/tls/s3",
      readOnly: true
    })
    expect(configOf(decision)).toMatchObject({
      SSL_CERT_FILE: "/convex/tls/s3/ca.crt",
      SSL_CERT_DIR: "/etc/ssl/certs",
      NODE_EXTRA_CA_CERTS: "/convex/tls/s3/ca.crt"
    })
  })

  it("are watched like every other reference", () => {
    expect(instanceReferences(postgresWithCa()).secrets).toEqual(["pg-app", "pg-ca"])
    expect(instanceReferences(s3WithCa).configMaps).toEqual(["minio-ca"])
  })

  it("roll the backend when the CA changes", () => {
    const hash = (ca: string) =>
      statefulSetOf(decide(postgresWithCa(), { objects: pgObjects(ca), entropy }, now))?.spec.template.metadata
        .annotations?.[configHashAnnotation]
    expect(hash(pem("one"))).toBeDefined()
    expect(hash(pem("one"))).toBe(hash(pem("one")))
    expect(hash(pem("one"))).not.toBe(hash(pem("two")))
  })

  it("hold the backend while the CA is missing, naming the field, with one warning", () => {
    const missing = decide(postgresWithCa(), { objects: pgObjects().slice(0, 1), entropy }, now)
    expect(statefulSetOf(missing)).toBeUndefined()
    const secretsReady = missing.status.conditions?.find((condition) => condition.type === "SecretsReady")
    expect(secretsReady?.message).toContain('spec.backend.db.caSecretRef: Secret "pg-ca" does not exist')
    expect(missing.events.filter((event) => event.type === "Warning")).toHaveLength(1)

    const wrongKey = decide(postgresWithCa({ caKey: "tls.crt" }), { objects: pgObjects(), entropy }, now)
    expect(JSON.stringify(wrongKey.status)).toContain('Secret \\"pg-ca\\" has no key \\"tls.crt\\"')

    const notPem = decide(postgresWithCa(), { objects: pgObjects("not a certificate"), entropy }, now)
    expect(JSON.stringify(notPem.status)).toContain("holds no PEM certificate")
    expect(JSON.stringify(notPem.status)).not.toContain("not a certificate")
  })

  it("are not mounted for SQLite or with S3 disabled", () => {
    const decision = decide(minimal(), { objects: [], entropy }, now)
    const pod = statefulSetOf(decision)?.spec.template.spec
    expect(pod?.volumes?.map((volume) => volume.name)).toEqual(["data"])
    expect(configOf(decision).SSL_CERT_FILE).toBeUndefined()
  })
})
