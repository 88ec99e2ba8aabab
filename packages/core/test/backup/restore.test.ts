/** Restore into a new instance through decide: wait for the backup and the backend, import once, then Ready. */
import { type ConvexInstance, type Decision, decide, type KubeObject } from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { entropy, minimal, now, sampleReferences, simulateCluster } from "../decide/support.js"

const backup = (phase: string): KubeObject =>
  ({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexBackup",
    metadata: { name: "nightly-1", namespace: "convex", creationTimestamp: "2025-06-01T11:00:00Z" },
    spec: { instanceRef: { name: "old" }, target: { pvc: {} } },
    status: { phase, location: "pvc://old-backups/nightly-1.zip" }
  }) as unknown as KubeObject

const restoreJob = (decision: Decision) =>
  decision.desired.find((object) => object.kind === "Job" && object.metadata.name === "fresh-restore")

/** Rounds of decide over a healthy simulated cluster; Jobs once created stay observed (as in a cluster). */
const run = (instance: ConvexInstance, extra: ReadonlyArray<KubeObject>, rounds: number) => {
  let current = instance
  let kept = new Map<string, KubeObject>()
  const jobsCreated: Array<string> = []
  let decision = decide(current, { objects: [...sampleReferences, ...extra], entropy }, now)
  for (let round = 0; round < rounds; round++) {
    const applied = simulateCluster(decision.desired)
    for (const object of applied) {
      const key = `${object.kind}/${object.metadata.name}`
      if (object.kind === "Job" && !kept.has(key)) jobsCreated.push(object.metadata.name ?? "")
      kept.set(key, object)
    }
    const deleted = new Set(decision.delete.map((reference) => `${reference.kind}/${reference.name}`))
    kept = new Map([...kept].filter(([key]) => !deleted.has(key)))
    current = { ...current, status: decision.status }
    decision = decide(current, { objects: [...sampleReferences, ...extra, ...kept.values()], entropy }, now)
  }
  return { decision, jobsCreated, kept }
}

describe("restore into a new instance", () => {
  const fresh = minimal({ restore: { from: { backup: "nightly-1" } } }, "fresh")

  it("waits, not Ready, while the ConvexBackup is not Completed", () => {
    const { decision, jobsCreated } = run(fresh, [backup("Running")], 4)
    expect(jobsCreated).toEqual([])
    expect(decision.status.restore).toMatchObject({
      phase: "Pending",
      message: "ConvexBackup nightly-1 is Running, not Completed"
    })
    expect(decision.status.conditions?.find((c) => c.type === "Ready")).toMatchObject({
      status: "False",
      reason: "Restoring"
    })
    expect(decision.requeueAfter._tag).toBe("Some")
  })

  it("imports once with --replace-all after the backend is ready, then reports Ready; the Job is kept, never rerun", () => {
    const first = decide(fresh, { objects: [...sampleReferences, backup("Completed")], entropy }, now)
    expect(restoreJob(first)).toBeUndefined() // no backend yet
    const { decision, jobsCreated, kept } = run(fresh, [backup("Completed")], 8)
    expect(jobsCreated.filter((name) => name === "fresh-restore")).toEqual(["fresh-restore"])
    const job = kept.get("Job/fresh-restore") as unknown as {
      spec: { template: { spec: { containers: Array<{ args: Array<string> }>; volumes: Array<unknown> } } }
    }
    expect(job.spec.template.spec.containers[0]?.args).toEqual([
      "snapshot",
      "import",
      "--path",
      "/backups/nightly-1.zip",
      "--replace-all"
    ])
    expect(job.spec.template.spec.volumes).toEqual([
      { name: "backups", persistentVolumeClaim: { claimName: "old-backups" } }
    ])
    expect(decision.status.restore).toMatchObject({ phase: "Succeeded", source: "backup/nightly-1" })
    expect(decision.status.phase).toBe("Ready")
    expect(restoreJob(decision)).toBeUndefined()
    expect(decision.delete.map((reference) => reference.name)).not.toContain("fresh-restore")
    // Even if the Job is deleted by hand, a Succeeded restore never runs again.
    const later = decide(
      { ...fresh, status: decision.status },
      { objects: [...sampleReferences, ...simulateCluster(decision.desired)], entropy },
      now
    )
    expect(restoreJob(later)).toBeUndefined()
    expect(later.status.restore?.phase).toBe("Succeeded")
  })

  it("from a bucket: downloads first, with the credentials from the Secret", () => {
    const s3 = minimal(
      {
        restore: {
          from: {
            s3: {
              bucket: "backups",
              key: "prod/app/a.zip",
              endpoint: "http://s3:8333",
              forcePathStyle: true,
              secretRef: { name: "s3" }
            }
          }
        }
      },
      "fresh"
    )
    const { kept } = run(s3, [], 3)
    const job = kept.get("Job/fresh-restore") as unknown as {
      spec: { template: { spec: { initContainers: Array<{ args: Array<string> }> } } }
    }
    expect(job.spec.template.spec.initContainers[0]?.args.slice(0, 5)).toEqual([
      "backup",
      "fetch",
      "--file",
      "/backups/snapshot.zip",
      "--s3-bucket"
    ])
  })
})
