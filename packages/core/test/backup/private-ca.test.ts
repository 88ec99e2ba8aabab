/**
 * A private S3 CA for backup, removal and restore Jobs: mounted read-only in the containers that talk to the bucket
 * (store, remove, fetch) and named by NODE_EXTRA_CA_CERTS; checked before a Job exists (a backup fails, a restore
 * waits, naming the field); the CA fields follow backend.s3's rules.
 */
import {
  backupDataFinalizer,
  type ConvexBackup,
  type Decision,
  decideBackup,
  decideBackupDeletion,
  decodeConvexBackup,
  type KubeObject,
  S3BackupTarget,
  S3Location
} from "@convex-operator/core"
import { instanceReferences, type Job } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import {
  configMap,
  decideWithSagas,
  entropy,
  minimal,
  now,
  sampleReferences,
  secret,
  simulateCluster
} from "../decide/support.js"

const pem = "-----BEGIN CERTIFICATE-----\nMINIO CA\n-----END CERTIFICATE-----\n"
const operator = { image: "registry.example/convex-operator:1" }
const s3Target = (ca: Record<string, string>) => ({
  bucket: "backups",
  endpoint: "https://minio.storage.svc:9000",
  forcePathStyle: true,
  secretRef: { name: "s3" },
  ...ca
})

const backupOf = (target: Record<string, unknown>, status?: Record<string, unknown>): ConvexBackup =>
  Either.getOrThrow(
    decodeConvexBackup({
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexBackup",
      metadata: { name: "b1", namespace: "convex", uid: "u-b1", creationTimestamp: "2026-02-01T11:59:00Z" },
      spec: { instanceRef: { name: "app" }, target },
      ...(status === undefined ? {} : { status })
    })
  )

const readyInstance = () => ({
  ...minimal({}, "app"),
  status: {
    conditions: [
      {
        type: "Ready",
        status: "True" as const,
        lastTransitionTime: "2026-01-01T00:00:00Z",
        reason: "BackendReady",
        message: ""
      }
    ]
  }
})

const observeBackup = (backup: ConvexBackup, caData: Readonly<Record<string, string>> | undefined) =>
  decideBackup({
    backup,
    instance: readyInstance(),
    siblings: [],
    job: undefined,
    claimExists: false,
    report: undefined,
    credentialKeys: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    caData,
    now: new Date("2026-02-01T12:00:00Z"),
    operator
  })

const podSpec = (job: unknown) => (job as Job).spec.template.spec
const containerNamed = (job: unknown, name: string) =>
  [...(podSpec(job).initContainers ?? []), ...podSpec(job).containers].find((container) => container.name === name)

const caMount = { name: "s3-ca", mountPath: "/convex/tls/s3", readOnly: true }
const caEnv = { name: "NODE_EXTRA_CA_CERTS", value: "/convex/tls/s3/ca.crt" }

describe("a backup to a bucket behind a private CA", () => {
  it("mounts only the CA key, read-only, in the store container, which names it in NODE_EXTRA_CA_CERTS", () => {
    const job = observeBackup(backupOf({ s3: s3Target({ caSecretRef: "minio-ca" }) }), { "ca.crt": pem }).apply[0]
    expect(podSpec(job).volumes).toEqual([
      { name: "backups", emptyDir: {} },
      { name: "s3-ca", secret: { secretName: "minio-ca", items: [{ key: "ca.crt", path: "ca.crt" }] } }
    ])
    expect(containerNamed(job, "store")?.volumeMounts).toEqual([{ name: "backups", mountPath: "/backups" }, caMount])
    expect(containerNamed(job, "store")?.env).toContainEqual(caEnv)
    // The export step only talks to the backend.
    expect(containerNamed(job, "export")?.volumeMounts).toEqual([{ name: "backups", mountPath: "/backups" }])
    expect(containerNamed(job, "export")?.env?.map((entry) => entry.name)).not.toContain("NODE_EXTRA_CA_CERTS")
  })

  it("reads a ConfigMap key named by caKey", () => {
    const target = s3Target({ caConfigMapRef: "trust", caKey: "bundle.pem" })
    const job = observeBackup(backupOf({ s3: target }), { "bundle.pem": pem }).apply[0]
    expect(podSpec(job).volumes?.[1]).toEqual({
      name: "s3-ca",
      configMap: { name: "trust", items: [{ key: "bundle.pem", path: "ca.crt" }] }
    })
  })

  it("without a CA of its own mounts nothing, also when the instance's backend.s3 has one", () => {
    const job = observeBackup(backupOf({ s3: s3Target({}) }), undefined).apply[0]
    expect(podSpec(job).volumes).toEqual([{ name: "backups", emptyDir: {} }])
    expect(containerNamed(job, "store")?.env?.map((entry) => entry.name)).not.toContain("NODE_EXTRA_CA_CERTS")
  })

  it("fails at once, without a Job, naming the field, when the CA object or key is missing or holds no PEM", () => {
    const backup = backupOf({ s3: s3Target({ caSecretRef: "minio-ca" }) })
    const missing = observeBackup(backup, undefined)
    expect(missing.apply).toEqual([])
    expect(missing.status).toMatchObject({
      phase: "Failed",
      message:
        'backup b1 failed: spec.target.s3.caSecretRef: Secret "minio-ca" does not exist: create it with the S3 endpoint\'s CA (PEM) under key "ca.crt"; fix it, then create a new ConvexBackup'
    })
    expect(missing.events.map((event) => `${event.on}/${event.reason}`)).toEqual([
      "backup/BackupFailed",
      "instance/BackupFailed"
    ])
    expect(observeBackup(backup, { "tls.crt": pem }).status.message).toContain(
      'spec.target.s3.caSecretRef: Secret "minio-ca" has no key "ca.crt" (set spec.target.s3.caKey'
    )
    const notPem = observeBackup(backup, { "ca.crt": "not a certificate" })
    expect(notPem.status.message).toContain('key "ca.crt" holds no PEM certificate')
    expect(notPem.status.message).not.toContain("not a certificate")
    const configMapTarget = backupOf({ s3: s3Target({ caConfigMapRef: "trust" }) })
    expect(observeBackup(configMapTarget, undefined).status.message).toContain(
      'spec.target.s3.caConfigMapRef: ConfigMap "trust" does not exist'
    )
  })

  it("the removal Job of a deleted backup mounts the CA in its remove container", () => {
    const backup = backupOf(
      { s3: s3Target({ caSecretRef: "minio-ca" }) },
      { phase: "Completed", location: "s3://backups/convex/app/b1.zip" }
    )
    const deleting = {
      ...backup,
      spec: { ...backup.spec, deletionPolicy: "Delete" as const },
      metadata: { ...backup.metadata, deletionTimestamp: "2026-02-01T12:00:00Z", finalizers: [backupDataFinalizer] }
    }
    const job = decideBackupDeletion({ backup: deleting, removalJob: undefined, operator }).apply[0]
    expect(containerNamed(job, "remove")?.volumeMounts).toContainEqual(caMount)
    expect(containerNamed(job, "remove")?.env).toEqual([
      expect.objectContaining({ name: "AWS_ACCESS_KEY_ID" }),
      expect.objectContaining({ name: "AWS_SECRET_ACCESS_KEY" }),
      caEnv
    ])
    expect(podSpec(job).volumes?.map((volume) => volume.name)).toEqual(["backups", "s3-ca"])
  })
})

describe("the CA fields of S3 targets and restore locations", () => {
  const decodeTarget = Schema.decodeUnknownEither(S3BackupTarget)
  const decodeLocation = Schema.decodeUnknownEither(S3Location)
  const location = (ca: Record<string, string>) => ({ ...s3Target(ca), key: "prod/app/a.zip" })
  it("take a Secret or a ConfigMap, not both, and caKey only with one of them (as backend.s3)", () => {
    expect(Either.isRight(decodeTarget(s3Target({ caSecretRef: "a", caKey: "x.pem" })))).toBe(true)
    expect(Either.isRight(decodeLocation(location({ caConfigMapRef: "a" })))).toBe(true)
    for (const decodeAny of [
      decodeTarget,
      (value: unknown) => decodeLocation({ ...(value as object), key: "a.zip" })
    ]) {
      const both = decodeAny(s3Target({ caSecretRef: "a", caConfigMapRef: "b" }))
      expect(Either.isLeft(both) && both.left.message).toContain("set caSecretRef or caConfigMapRef, not both")
      const keyAlone = decodeAny(s3Target({ caKey: "x.pem" }))
      expect(Either.isLeft(keyAlone) && keyAlone.left.message).toContain("caKey names a key of caSecretRef")
    }
  })
})

describe("a restore from a bucket behind a private CA", () => {
  const fresh = (ca: Record<string, string>) =>
    minimal({ restore: { from: { s3: { ...s3Target(ca), key: "prod/app/a.zip" } } } }, "fresh")
  const credentials = secret("s3", { AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "secret" })
  const restoreJob = (decision: Decision) =>
    decision.desired.find((object) => object.kind === "Job" && object.metadata.name === "fresh-restore")

  /** Rounds of decide over a healthy simulated cluster (the backend becomes ready in the second). */
  const run = (instance: ReturnType<typeof fresh>, extra: ReadonlyArray<KubeObject>) => {
    let current = instance
    let decision = decideWithSagas(current, { objects: [...sampleReferences, ...extra], entropy }, now)
    for (let round = 0; round < 3; round++) {
      current = { ...current, status: decision.status }
      const applied = simulateCluster(decision.desired).filter((object) => object.kind !== "Job")
      decision = decideWithSagas(current, { objects: [...sampleReferences, ...extra, ...applied], entropy }, now)
    }
    return decision
  }

  it("mounts the CA in the fetch container only", () => {
    const job = restoreJob(run(fresh({ caConfigMapRef: "minio-ca" }), [credentials]))
    expect(containerNamed(job, "fetch")?.volumeMounts).toContainEqual(caMount)
    expect(containerNamed(job, "fetch")?.env).toContainEqual(caEnv)
    expect(containerNamed(job, "import")?.volumeMounts).toEqual([{ name: "backups", mountPath: "/backups" }])
    expect(podSpec(job).volumes).toContainEqual({
      name: "s3-ca",
      configMap: { name: "minio-ca", items: [{ key: "ca.crt", path: "ca.crt" }] }
    })
  })

  it("waits without a Job, naming the field, while the credentials Secret, a key of it, or the CA is missing", () => {
    const waiting = (instance: ReturnType<typeof fresh>, extra: ReadonlyArray<KubeObject>) => {
      const decision = run(instance, extra)
      expect(restoreJob(decision)).toBeUndefined()
      expect(decision.status.restore?.phase).toBe("Pending")
      expect(decision.status.conditions?.find((c) => c.type === "Ready")).toMatchObject({
        status: "False",
        reason: "Restoring"
      })
      return decision.status.restore?.message
    }
    expect(waiting(fresh({}), [])).toBe(
      'spec.restore.from.s3.secretRef: Secret "s3" does not exist; create it with the keys "AWS_ACCESS_KEY_ID" and "AWS_SECRET_ACCESS_KEY"'
    )
    expect(waiting(fresh({}), [secret("s3", { AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "" })])).toBe(
      'spec.restore.from.s3.secretRef.secretAccessKeyKey: Secret "s3" has no key "AWS_SECRET_ACCESS_KEY" (or its value is empty)'
    )
    expect(waiting(fresh({ caSecretRef: "absent-ca" }), [credentials])).toContain(
      'spec.restore.from.s3.caSecretRef: Secret "absent-ca" does not exist'
    )
    expect(waiting(fresh({ caConfigMapRef: "minio-ca", caKey: "other.pem" }), [credentials])).toContain(
      'spec.restore.from.s3.caConfigMapRef: ConfigMap "minio-ca" has no key "other.pem"'
    )
    // Once they exist the Job is created.
    expect(restoreJob(run(fresh({ caSecretRef: "ca" }), [credentials, secret("ca", { "ca.crt": pem })]))).toBeDefined()
    const trusted = run(fresh({ caConfigMapRef: "trust" }), [credentials, configMap("trust", { "ca.crt": pem })])
    expect(restoreJob(trusted)).toBeDefined()
  })

  it("watches the credentials and CA it names until the restore succeeded", () => {
    const instance = fresh({ caConfigMapRef: "trust" })
    expect(instanceReferences(instance)).toEqual({ secrets: ["s3"], configMaps: ["trust"] })
    const succeeded = { ...instance, status: { restore: { phase: "Succeeded" as const, source: "s3://backups/a" } } }
    expect(instanceReferences(succeeded)).toEqual({ secrets: [], configMaps: [] })
  })

  it("a restore from a ConvexBackup in a bucket uses that backup's CA", () => {
    const backup = {
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexBackup",
      metadata: { name: "nightly-1", namespace: "convex", creationTimestamp: "2025-06-01T11:00:00Z" },
      spec: { instanceRef: { name: "old" }, target: { s3: s3Target({ caSecretRef: "minio-ca" }) } },
      status: { phase: "Completed", location: "s3://backups/convex/old/nightly-1.zip" }
    } as unknown as KubeObject
    const job = restoreJob(run(minimal({ restore: { from: { backup: "nightly-1" } } }, "fresh"), [backup]))
    expect(containerNamed(job, "fetch")?.env).toContainEqual(caEnv)
    expect(podSpec(job).volumes).toContainEqual({
      name: "s3-ca",
      secret: { secretName: "minio-ca", items: [{ key: "ca.crt", path: "ca.crt" }] }
    })
  })
})
