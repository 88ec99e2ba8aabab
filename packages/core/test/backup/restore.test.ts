/** Restore into a new instance through decide: wait for the backup and the backend, import once, then Ready. */
import {
  type ConvexInstance,
  type Decision,
  decide,
  type KubeObject,
  restoreNext,
  restoreRetryAnnotation
} from "@convex-operator/core"
import { attemptAnnotation } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Option } from "effect"
import { decideWithSagas, entropy, minimal, now, sampleReferences, secret, simulateCluster } from "../decide/support.js"

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
  let decision = decideWithSagas(current, { objects: [...sampleReferences, ...extra], entropy }, now)
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
    decision = decideWithSagas(current, { objects: [...sampleReferences, ...extra, ...kept.values()], entropy }, now)
  }
  return { decision, jobsCreated, kept }
}

describe("restore into a new instance", () => {
  const fresh = minimal({ restore: { from: { backup: "nightly-1" } } }, "fresh")

  it("ends only on the restore saga's move: a finished import Job alone keeps the journal Running", () => {
    // The round that renders the import Job (journal Running); the cluster then runs it, and it succeeds.
    const rounds = [0, 1, 2, 3, 4, 5].map((n) => run(fresh, [backup("Completed")], n))
    const found = rounds.find((r) => restoreJob(r.decision) !== undefined)
    if (found === undefined) throw new Error("the import Job was never rendered")
    const { decision, kept } = found
    expect(decision.status.restore?.phase).toBe("Running")
    const instance = { ...fresh, status: decision.status }
    const applied = new Map([
      ...kept,
      ...simulateCluster(decision.desired).map((o) => [`${o.kind}/${o.metadata.name}`, o] as const)
    ])
    const objects = [...sampleReferences, backup("Completed"), ...applied.values()]
    const alone = decide(instance, { objects, entropy }, now)
    expect(alone.status.restore?.phase).toBe("Running")
    expect(alone.events.map((event) => event.reason)).not.toContain("RestoreSucceeded")
    expect(alone.delete).toEqual([])
    const move = restoreNext(instance, objects, now)
    expect(move).toMatchObject({ from: decision.status.restore, to: { phase: "Succeeded" } })
    const moved = decide(instance, { objects, entropy, restoreMove: move }, now)
    expect(moved.status.restore?.phase).toBe("Succeeded")
    expect(moved.events.map((event) => event.reason)).toContain("RestoreSucceeded")
    // A stale move (from another journal) is not taken.
    const stale = move === undefined ? undefined : { ...move, from: { ...move.from, attempt: 2 } }
    expect(decide(instance, { objects, entropy, restoreMove: stale }, now).status.restore?.phase).toBe("Running")
  })

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
    // No poll: the operator watches the ConvexBackup and is woken when it completes (a wake-up that remains is the
    // periodic restart's, hours away).
    expect(
      Option.match(decision.requeueAfter, { onNone: () => true, onSome: (d) => Duration.greaterThan(d, "1 hour") })
    ).toBe(true)
  })

  it("imports once with --replace-all after the backend is ready, then reports Ready; the Job is kept, never rerun", () => {
    const first = decideWithSagas(fresh, { objects: [...sampleReferences, backup("Completed")], entropy }, now)
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
    const later = decideWithSagas(
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
    // The restore waits for the credentials Secret it names (see private-ca.test.ts).
    const credentials = secret("s3", { AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "secret" })
    const { kept } = run(s3, [credentials], 3)
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

/** The import Job ends as `fate` says for its attempt (annotation); every other Job as simulateCluster says. */
type Fate = (attempt: number) => "Succeeded" | "Failed"

interface World {
  readonly instance: ConvexInstance
  readonly kept: ReadonlyMap<string, KubeObject>
  /** `<name>#<attempt>` of every Job created, in order. */
  readonly jobsCreated: ReadonlyArray<string>
  readonly decisions: ReadonlyArray<Decision>
}

const begin = (instance: ConvexInstance): World => ({ instance, kept: new Map(), jobsCreated: [], decisions: [] })

/** `rounds` decisions from `world`, each applied (Jobs ending as `fate` says) and its status fed back. */
const advance = (world: World, extra: ReadonlyArray<KubeObject>, rounds: number, fate: Fate): World => {
  let { instance, kept, jobsCreated, decisions } = world
  for (let round = 0; round < rounds; round++) {
    const decision = decideWithSagas(
      instance,
      { objects: [...sampleReferences, ...extra, ...kept.values()], entropy },
      now
    )
    const next = new Map(kept)
    for (const reference of decision.delete) next.delete(`${reference.kind}/${reference.name}`)
    for (const object of simulateCluster(decision.apply)) {
      const key = `${object.kind}/${object.metadata.name}`
      const attempt = Number(object.metadata.annotations?.[attemptAnnotation] ?? 1)
      const ended =
        object.kind === "Job" && object.metadata.name === "fresh-restore"
          ? {
              ...object,
              status: { conditions: [{ type: fate(attempt) === "Failed" ? "Failed" : "Complete", status: "True" }] }
            }
          : object
      if (object.kind === "Job" && !next.has(key)) jobsCreated = [...jobsCreated, `${object.metadata.name}#${attempt}`]
      // A Job's spec never changes once created (as in a cluster); its status stays as it ended.
      next.set(key, object.kind === "Job" && next.has(key) ? (next.get(key) as KubeObject) : ended)
    }
    kept = next
    instance = { ...instance, status: decision.status }
    decisions = [...decisions, decision]
  }
  return { instance, kept, jobsCreated, decisions }
}

const annotate = (world: World, value: string): World => ({
  ...world,
  instance: {
    ...world.instance,
    metadata: { ...world.instance.metadata, annotations: { [restoreRetryAnnotation]: value } }
  }
})
const last = (world: World): Decision => {
  const decision = world.decisions.at(-1)
  if (decision === undefined) throw new Error("no decision yet")
  return decision
}
const ready = (decision: Decision) => decision.status.conditions?.find((c) => c.type === "Ready")

describe("a failed restore", () => {
  const fresh = minimal({ restore: { from: { backup: "nightly-1" } } }, "fresh")
  const completed = [backup("Completed")]

  it("stops in Failed: Ready False, RestoreCompleted False, Warnings once, the Job kept, no second import", () => {
    const world = advance(begin(fresh), completed, 10, () => "Failed")
    expect(world.jobsCreated).toEqual(["fresh-restore#1"])
    const decision = last(world)
    expect(decision.status.phase).toBe("Error")
    expect(decision.status.restore).toMatchObject({ phase: "Failed", job: "fresh-restore" })
    expect(decision.status.restore?.message).toContain(`annotate the instance ${restoreRetryAnnotation}=<a new value>`)
    expect(ready(decision)).toMatchObject({ status: "False", reason: "RestoreFailed" })
    expect(decision.status.conditions?.find((c) => c.type === "RestoreCompleted")).toMatchObject({
      status: "False",
      reason: "RestoreFailed"
    })
    const warnings = world.decisions.flatMap((d) => d.events).filter((event) => event.reason === "RestoreFailed")
    // Once each over ten decisions: the restore's own, and Ready turning False for it.
    expect(warnings.map((event) => `${event.type}/${event.action}`)).toEqual(["Warning/Restore", "Warning/Reconcile"])
    expect(decision.delete.map((reference) => reference.name)).not.toContain("fresh-restore")
    expect(world.kept.has("Job/fresh-restore")).toBe(true)
  })

  it("a new value of the retry annotation runs the import once more (attempt 2, after the failed Job is gone)", () => {
    // A value present before the failure is remembered, not taken as a request.
    const failed = advance(annotate(begin(fresh), "first"), completed, 8, () => "Failed")
    expect(failed.jobsCreated).toEqual(["fresh-restore#1"])
    expect(last(failed).status.restore?.phase).toBe("Failed")

    const retried = advance(annotate(failed, "second"), completed, 1, (attempt) =>
      attempt === 1 ? "Failed" : "Succeeded"
    )
    const removing = last(retried)
    expect(removing.status.restore).toMatchObject({ phase: "Running", attempt: 2 })
    expect(removing.delete).toContainEqual(expect.objectContaining({ kind: "Job", name: "fresh-restore" }))
    expect(ready(removing)).toMatchObject({ status: "False", reason: "Restoring" })

    const done = advance(retried, completed, 6, (attempt) => (attempt === 1 ? "Failed" : "Succeeded"))
    expect(done.jobsCreated).toEqual(["fresh-restore#1", "fresh-restore#2"])
    const decision = last(done)
    expect(decision.status.restore).toMatchObject({ phase: "Succeeded", attempt: 2 })
    expect(ready(decision)?.status).toBe("True")
    // Succeeded is final: neither more rounds nor another new value import again.
    const after = advance(annotate(done, "third"), completed, 4, () => "Succeeded")
    expect(after.jobsCreated).toEqual(["fresh-restore#1", "fresh-restore#2"])
    expect(last(after).status.restore?.phase).toBe("Succeeded")
  })

  it("each new value retries once: a retry that fails stops again, and the same value does not retry twice", () => {
    const failed = advance(begin(fresh), completed, 6, () => "Failed")
    const again = advance(annotate(failed, "once"), completed, 10, () => "Failed")
    expect(again.jobsCreated).toEqual(["fresh-restore#1", "fresh-restore#2"])
    expect(last(again).status.restore).toMatchObject({ phase: "Failed", attempt: 2 })
    expect(last(again).status.restore?.message).toContain("failed (attempt 2)")
    const third = advance(annotate(again, "twice"), completed, 6, () => "Failed")
    expect(third.jobsCreated).toEqual(["fresh-restore#1", "fresh-restore#2", "fresh-restore#3"])
  })
})
