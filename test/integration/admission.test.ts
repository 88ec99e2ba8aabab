/**
 * The ConvexInstance CRD on a real apiserver: samples are admitted, invalid instances are rejected naming the
 * field, the apiserver applies exactly the defaults the Schema applies, and status and printer columns work.
 * Every rejected instance must also fail to decode with the same field path: CEL and Schema agree.
 */
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import {
  crdFiles,
  decodeConvexBackup,
  decodeConvexInstance,
  decodeConvexScheduledBackup,
  encodeConvexInstance
} from "@convex-operator/core"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { convexInstances, refusedReference, repoRoot } from "../support/manifests.js"
import { invalidSpecs, valid } from "./admission-corpus.js"
import { type KubeObject, useLocalCluster } from "./support.js"

const crds = crdFiles.map((file) => fileURLToPath(new URL(file.path, `file://${repoRoot}/`)))
const ref = { apiVersion: "convex.icod.de/v1alpha1", kind: "ConvexInstance", namespace: "default" }

const instance = (name: string, spec: unknown): KubeObject => ({
  apiVersion: ref.apiVersion,
  kind: ref.kind,
  metadata: { name, namespace: "default" },
  spec
})

const pvcTarget = { pvc: {} }
const s3Target = { s3: { bucket: "backups", secretRef: { name: "s3" } } }
const backupSpec = { instanceRef: { name: "app" }, target: pvcTarget }
const scheduleSpec = { instanceRef: { name: "app" }, schedule: "0 3 * * *", target: pvcTarget }

/** [what, kind, spec, the field the apiserver must name]. */
const invalidBackups: ReadonlyArray<readonly [string, "ConvexBackup" | "ConvexScheduledBackup", unknown, string]> = [
  ["a backup without instanceRef", "ConvexBackup", { target: pvcTarget }, "spec.instanceRef"],
  [
    "a backup with two targets",
    "ConvexBackup",
    { ...backupSpec, target: { ...pvcTarget, ...s3Target } },
    "spec.target"
  ],
  ["a backup with no target", "ConvexBackup", { ...backupSpec, target: {} }, "spec.target"],
  [
    "an S3 target without credentials",
    "ConvexBackup",
    { ...backupSpec, target: { s3: { bucket: "backups" } } },
    "spec.target.s3.secretRef"
  ],
  [
    "an S3 bucket with upper case",
    "ConvexBackup",
    { ...backupSpec, target: { s3: { ...s3Target.s3, bucket: "Backups" } } },
    "spec.target.s3.bucket"
  ],
  [
    "an S3 prefix with a leading /",
    "ConvexBackup",
    { ...backupSpec, target: { s3: { ...s3Target.s3, prefix: "/convex" } } },
    "spec.target.s3.prefix"
  ],
  ["an unknown deletion policy", "ConvexBackup", { ...backupSpec, deletionPolicy: "Keep" }, "spec.deletionPolicy"],
  [
    "an S3 target with a CA Secret and a CA ConfigMap",
    "ConvexBackup",
    { ...backupSpec, target: { s3: { ...s3Target.s3, caSecretRef: "ca", caConfigMapRef: "ca" } } },
    "spec.target.s3.caConfigMapRef"
  ],
  [
    "an S3 target with caKey but no CA object",
    "ConvexBackup",
    { ...backupSpec, target: { s3: { ...s3Target.s3, caKey: "ca.pem" } } },
    "spec.target.s3.caKey"
  ],
  [
    "a scheduled S3 target with a CA Secret and a CA ConfigMap",
    "ConvexScheduledBackup",
    { ...scheduleSpec, target: { s3: { ...s3Target.s3, caSecretRef: "ca", caConfigMapRef: "ca" } } },
    "spec.target.s3.caConfigMapRef"
  ],
  ["a schedule of four fields", "ConvexScheduledBackup", { ...scheduleSpec, schedule: "0 3 * *" }, "spec.schedule"],
  ["a schedule of six fields", "ConvexScheduledBackup", { ...scheduleSpec, schedule: "0 0 3 * * *" }, "spec.schedule"],
  ["a schedule in words", "ConvexScheduledBackup", { ...scheduleSpec, schedule: "every day" }, "spec.schedule"],
  ["an unknown nickname", "ConvexScheduledBackup", { ...scheduleSpec, schedule: "@fortnightly" }, "spec.schedule"],
  ["an empty retention", "ConvexScheduledBackup", { ...scheduleSpec, retention: {} }, "spec.retention"],
  ["keepLast 0", "ConvexScheduledBackup", { ...scheduleSpec, retention: { keepLast: 0 } }, "spec.retention.keepLast"],
  [
    "a maxAge in days",
    "ConvexScheduledBackup",
    { ...scheduleSpec, retention: { maxAge: "30d" } },
    "spec.retention.maxAge"
  ],
  [
    "a negative starting deadline",
    "ConvexScheduledBackup",
    { ...scheduleSpec, startingDeadlineSeconds: -1 },
    "spec.startingDeadlineSeconds"
  ],
  [
    "an unknown owner policy",
    "ConvexScheduledBackup",
    { ...scheduleSpec, backupOwnerReference: "cluster" },
    "spec.backupOwnerReference"
  ]
]

const decodeIssuePaths = (object: KubeObject): ReadonlyArray<string> =>
  Either.match(decodeConvexInstance(object), { onLeft: (e) => e.issues.map((i) => i.path), onRight: () => [] })

describe("ConvexInstance admission on a real apiserver", () => {
  const cluster = useLocalCluster({ components: "apiserver", crds })

  it("admits every sample in examples/ and every reference-operator manifest unchanged (but those refused on purpose)", async () => {
    // Samples and reference manifests share names; each folder gets a namespace of its own.
    const folders = [
      ["examples", "default"],
      ["test/fixtures/reference", "reference"]
    ] as const
    expect((await cluster.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "reference" } })).ok).toBe(
      true
    )
    let admitted = 0
    for (const [folder, namespace] of folders) {
      for (const manifest of convexInstances(folder)) {
        const object = manifest.object as unknown as KubeObject
        const outcome = await cluster.create({ ...object, metadata: { ...object.metadata, namespace } })
        const refusal = refusedReference[manifest.source]
        if (refusal !== undefined) {
          // Refused on purpose (SPEC.md, "Compatibility with the reference operator").
          expect(outcome.ok ? "admitted" : outcome.error.statusMessage, manifest.source).toContain(refusal)
          continue
        }
        expect(outcome.ok ? "admitted" : outcome.error.statusMessage, manifest.source).toBe("admitted")
        admitted++
      }
    }
    expect(admitted).toBeGreaterThanOrEqual(8)
  })

  it("applies exactly the defaults the Schema applies", async () => {
    for (const manifest of convexInstances("examples")) {
      const { name } = manifest.object.metadata as { name: string }
      const stored = await cluster.get(ref, name)
      const decoded = Either.getOrThrow(decodeConvexInstance(manifest.object))
      expect(stored.spec, manifest.source).toEqual(encodeConvexInstance(decoded).spec)
    }
  })

  it("admits the proxy settings of networking and defaults them as the Schema does", async () => {
    const spec = {
      ...valid,
      networking: {
        host: "api.example.com",
        siteHost: "site.example.com",
        siteRoute: "proxy",
        limits: { maxRequestBodySize: "0", readTimeoutSeconds: 9999 }
      }
    }
    expect((await cluster.create(instance("proxy-settings", spec))).ok).toBe(true)
    const stored = await cluster.get(ref, "proxy-settings")
    expect((stored.spec as { networking: unknown }).networking).toMatchObject({
      siteRoute: "proxy",
      limits: { maxRequestBodySize: "0", readTimeoutSeconds: 9999, sendTimeoutSeconds: 3600 }
    })
    const decoded = Either.getOrThrow(decodeConvexInstance(instance("proxy-settings", spec)))
    expect(stored.spec).toEqual(encodeConvexInstance(decoded).spec)
  })

  it("stores the data claim on and acceptDataLoss off by default; admits an explicit emptyDir that accepts the loss", async () => {
    expect((await cluster.create(instance("claim-by-default", valid))).ok).toBe(true)
    const stored = await cluster.get(ref, "claim-by-default")
    expect((stored.spec as { backend: { storage: unknown } }).backend.storage).toEqual({
      mode: "sqlite",
      pvc: { enabled: true, deletionPolicy: "Retain" },
      acceptDataLoss: false
    })
    const scratch = { ...valid, backend: { storage: { pvc: { enabled: false }, acceptDataLoss: true } } }
    expect((await cluster.create(instance("scratch", scratch))).ok).toBe(true)
    const storedScratch = await cluster.get(ref, "scratch")
    expect((storedScratch.spec as { backend: { storage: unknown } }).backend.storage).toEqual({
      mode: "sqlite",
      pvc: { enabled: false, deletionPolicy: "Retain" },
      acceptDataLoss: true
    })
    const decoded = Either.getOrThrow(decodeConvexInstance(instance("scratch", scratch)))
    expect(storedScratch.spec).toEqual(encodeConvexInstance(decoded).spec)
  })

  /** The apiserver refuses `object` with 422, naming `field`. */
  const expectRejected = async (object: KubeObject, what: string, field: string) => {
    const outcome = await cluster.create(object)
    expect(outcome.ok, what).toBe(false)
    if (outcome.ok) return
    expect(outcome.error.code, what).toBe(422)
    expect(
      outcome.error.causes.map((cause) => cause.field),
      `${what}: ${outcome.error.statusMessage}`
    ).toContain(field)
  }

  it(`rejects ${invalidSpecs.length} invalid instances, naming the field, and decoding rejects them too`, async () => {
    expect(invalidSpecs.length).toBeGreaterThanOrEqual(50)
    for (const [index, [what, spec, field]] of invalidSpecs.entries()) {
      const object = instance(`invalid-${index}`, spec)
      await expectRejected(object, what, field)
      expect(decodeIssuePaths(object), what).toContain(field)
    }
  })

  it(`rejects ${invalidBackups.length} invalid backups and schedules, naming the field, and decoding rejects them too`, async () => {
    for (const [index, [what, kind, spec, field]] of invalidBackups.entries()) {
      const object = { ...instance(`invalid-backup-${index}`, spec), kind }
      await expectRejected(object, what, field)
      const issues = (error: { readonly issues: ReadonlyArray<{ readonly path: string }> }) =>
        error.issues.map((issue) => issue.path)
      const paths =
        kind === "ConvexBackup"
          ? Either.match(decodeConvexBackup(object), { onLeft: issues, onRight: () => [] })
          : Either.match(decodeConvexScheduledBackup(object), { onLeft: issues, onRight: () => [] })
      expect(paths, what).toContain(field)
    }
  })

  it("admits valid backups; a backup's spec is immutable; an out-of-range cron field is refused when decoding", async () => {
    const backup = { ...instance("backup-ok", { ...backupSpec, target: s3Target }), kind: "ConvexBackup" }
    expect((await cluster.create(backup)).ok).toBe(true)
    const privateCa = { s3: { ...s3Target.s3, caConfigMapRef: "minio-ca", caKey: "ca.pem" } }
    const withCa = { ...instance("backup-ca", { ...backupSpec, target: privateCa }), kind: "ConvexBackup" }
    expect((await cluster.create(withCa)).ok).toBe(true)
    const changed = await cluster.apply({ ...backup, spec: { ...backupSpec, instanceRef: { name: "other" } } })
    expect(changed.ok).toBe(false)
    if (!changed.ok) expect(changed.error.statusMessage).toContain("spec is immutable")
    const schedule = {
      ...instance("schedule-ok", { ...scheduleSpec, schedule: "@daily" }),
      kind: "ConvexScheduledBackup"
    }
    expect((await cluster.create(schedule)).ok).toBe(true)
    // The CRD's pattern admits five fields; croner (when decoding) refuses a minute of 61 with the field named.
    const outOfRange = { ...schedule, metadata: { name: "schedule-61", namespace: "default" } }
    const decoded = decodeConvexScheduledBackup({ ...outOfRange, spec: { ...scheduleSpec, schedule: "61 * * * *" } })
    expect(Either.match(decoded, { onLeft: (e) => e.message, onRight: () => "" })).toContain("spec.schedule")
  })

  it("refuses adding spec.restore to an existing instance, and changing it; admits it at creation", async () => {
    expect((await cluster.create(instance("restore-later", valid))).ok).toBe(true)
    const later = await cluster.apply(instance("restore-later", { ...valid, restore: { from: { backup: "b1" } } }))
    expect(later.ok).toBe(false)
    if (!later.ok) {
      expect(later.error.statusMessage).toContain("spec.restore can only be set when the instance is created")
    }
    const restored = instance("restored", { ...valid, restore: { from: { backup: "b1" } } })
    expect((await cluster.create(restored)).ok).toBe(true)
    const changed = await cluster.apply(instance("restored", { ...valid, restore: { from: { backup: "b2" } } }))
    expect(changed.ok).toBe(false)
    const twoSources = instance("restore-two", {
      ...valid,
      restore: { from: { backup: "b1", s3: { ...s3Target.s3, key: "a.zip" } } }
    })
    const outcome = await cluster.create(twoSources)
    expect(outcome.ok).toBe(false)
    expect(decodeIssuePaths(twoSources)).toContain("spec.restore.from")
  })

  it("rejects instance names that cannot prefix the StatefulSet and Services", async () => {
    for (const name of ["1-convex", "a".repeat(45)]) {
      const outcome = await cluster.create(instance(name, valid))
      expect(outcome.ok, name).toBe(false)
      if (!outcome.ok) expect(outcome.error.statusMessage).toContain("metadata.name must start with a letter")
      expect(decodeIssuePaths(instance(name, valid))).toEqual(["metadata.name"])
    }
  })

  it("keeps status in its subresource and shows the printer columns", async () => {
    const created = await cluster.create({ ...instance("columns", valid), status: { phase: "Ready" } })
    expect(created.ok).toBe(true)
    expect((await cluster.get(ref, "columns")).status).toBeUndefined()

    const info = cluster.info()
    const statusPath = `/apis/convex.icod.de/v1alpha1/namespaces/default/convexinstances/columns/status`
    const status = {
      phase: "Ready",
      observedGeneration: 1,
      endpoints: { apiUrl: "https://api.example.com" },
      conditions: [
        {
          type: "Ready",
          status: "True",
          observedGeneration: 1,
          lastTransitionTime: "2026-01-01T00:00:00Z",
          reason: "BackendReady",
          message: "the backend answers /version"
        }
      ]
    }
    await cluster.run(info.objects.call("PATCH", statusPath, { status }, "application/merge-patch+json"))
    const stored = await cluster.get(ref, "columns")
    expect(stored.status).toEqual(status)
    expect(Either.isRight(decodeConvexInstance(stored))).toBe(true)

    const table = execFileSync(
      info.kubectl,
      ["--kubeconfig", info.kubeconfigPath, "get", "cvx", "columns", "-o", "wide"],
      {
        encoding: "utf8"
      }
    )
    const [header, row] = table.trim().split("\n")
    expect(header?.split(/\s{2,}/)).toEqual(["NAME", "READY", "PHASE", "VERSION", "API URL", "ENVIRONMENT", "AGE"])
    expect(row).toMatch(
      /^columns\s+True\s+Ready\s+0123456789abcdef0123456789abcdef01234567\s+https:\/\/api\.example\.com\s+dev\s+\d+s$/
    )
  })
})
