/**
 * `spec.restore.from.deployment`: a new instance that starts from a live deployment moved in. The restore Job
 * exports the old deployment (its admin key from the user's Secret, by reference only) and imports the ZIP with
 * `--replace-all` into the new instance once, before Ready; it waits, naming the field, while the Secret is missing.
 */
import { type ConvexInstance, type Decision, decodeConvexInstance, type KubeObject } from "@convex-operator/core"
import { findCondition, instanceReferences } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { decideWithSagas, entropy, minimal, now, secret, simulateCluster } from "../decide/support.js"

const oldAdminKey = "convex-self-hosted|01deadbeefdeadbeefdeadbeefdeadbeef"
const moving = minimal(
  {
    restore: {
      from: { deployment: { url: "https://convex.old.example.com", adminKeySecretRef: { name: "old-admin" } } }
    }
  },
  "fresh"
)

// biome-ignore lint/suspicious/noExplicitAny: a rendered Job, checked by the assertions
type Json = any

/** Rounds of decide over a healthy simulated cluster; objects once created stay observed (as in a cluster). */
const run = (instance: ConvexInstance, extra: ReadonlyArray<KubeObject>, rounds: number) => {
  let current = instance
  const kept = new Map<string, KubeObject>()
  const jobsCreated: Array<string> = []
  const decisions: Array<Decision> = []
  let decision = decideWithSagas(current, { objects: [...extra], entropy }, now)
  for (let round = 0; round < rounds; round++) {
    decisions.push(decision)
    for (const object of simulateCluster(decision.desired)) {
      const key = `${object.kind}/${object.metadata.name}`
      if (object.kind === "Job" && !kept.has(key)) jobsCreated.push(object.metadata.name ?? "")
      kept.set(key, object)
    }
    current = { ...current, status: decision.status }
    decision = decideWithSagas(current, { objects: [...extra, ...kept.values()], entropy }, now)
  }
  decisions.push(decision)
  return { decision, decisions, jobsCreated, kept }
}

describe("restore from a live deployment", () => {
  it("exports the old deployment with its admin key by Secret reference, then imports; once, before Ready", () => {
    const { decision, decisions, jobsCreated, kept } = run(moving, [secret("old-admin", { ADMIN_KEY: oldAdminKey })], 5)
    expect(jobsCreated).toEqual(["fresh-restore"])
    const job = kept.get("Job/fresh-restore") as Json
    const pod = job.spec.template.spec
    expect(pod.volumes).toEqual([{ name: "backups", emptyDir: {} }])
    const [exporter] = pod.initContainers
    expect(exporter.name).toBe("export")
    expect(exporter.args).toEqual(["snapshot", "export", "--path", "/backups/snapshot.zip", "--include-file-storage"])
    expect(exporter.env).toEqual([
      { name: "CONVEX_SELF_HOSTED_URL", value: "https://convex.old.example.com" },
      { name: "CONVEX_SELF_HOSTED_ADMIN_KEY", valueFrom: { secretKeyRef: { name: "old-admin", key: "ADMIN_KEY" } } }
    ])
    const [importer] = pod.containers
    expect(importer.args).toEqual(["snapshot", "import", "--path", "/backups/snapshot.zip", "--replace-all"])
    expect(importer.env).toContainEqual({
      name: "CONVEX_SELF_HOSTED_URL",
      value: "http://fresh-backend.convex.svc:3210"
    })
    expect(importer.env).toContainEqual({
      name: "CONVEX_SELF_HOSTED_ADMIN_KEY",
      valueFrom: { secretKeyRef: { name: "fresh-convex-secrets", key: "admin-key" } }
    })
    // The key never appears in anything the operator writes or records.
    for (const step of decisions) {
      expect(JSON.stringify([step.desired, step.status, step.events])).not.toContain(oldAdminKey)
    }
    expect(decision.status.restore).toMatchObject({ phase: "Succeeded", source: "deployment/convex.old.example.com" })
    expect(findCondition(decision.status.conditions, "Ready")?.status).toBe("True")
    // Not Ready while the import ran.
    const running = decisions.find((step) => step.status.restore?.phase === "Running")
    expect(findCondition(running?.status.conditions, "Ready")).toMatchObject({ status: "False", reason: "Restoring" })
  })

  it("waits, naming the field, while the admin key Secret or its key is missing; the Secret is watched by name", () => {
    const missing = run(moving, [], 3).decision
    expect(missing.status.restore?.phase).toBe("Pending")
    expect(missing.status.restore?.message).toBe(
      'spec.restore.from.deployment.adminKeySecretRef: Secret "old-admin" does not exist; create it with the old deployment\'s admin key under key "ADMIN_KEY"'
    )
    expect(missing.desired.some((object) => object.kind === "Job")).toBe(false)
    const empty = run(moving, [secret("old-admin", { ADMIN_KEY: "" })], 3).decision
    expect(empty.status.restore?.message).toContain('Secret "old-admin" has no key "ADMIN_KEY" (or its value is empty)')
    expect(instanceReferences(moving).secrets).toEqual(["old-admin"])
    const done = { ...moving, status: { restore: { phase: "Succeeded" as const, source: "deployment/x" } } }
    expect(instanceReferences(done).secrets).toEqual([])
  })

  it("exactly one source: backup, s3 or deployment", () => {
    const decodes = (from: unknown) =>
      Either.isRight(
        decodeConvexInstance({
          apiVersion: "convex.icod.de/v1alpha1",
          kind: "ConvexInstance",
          metadata: { name: "x", namespace: "convex" },
          spec: { environment: "dev", version: "0123456789abcdef0123456789abcdef01234567", restore: { from } }
        })
      )
    const deployment = { url: "http://old:3210", adminKeySecretRef: { name: "k" } }
    expect(decodes({ deployment })).toBe(true)
    expect(decodes({ deployment, backup: "b" })).toBe(false)
    expect(decodes({})).toBe(false)
    expect(decodes({ deployment: { ...deployment, url: "old:3210" } })).toBe(false)
  })
})
