/**
 * A small world for upgrade tests: the saga's move and `decide` at the TestClock's time, then a simulated cluster that applies the
 * decision (deleted objects vanish, Jobs end as the test says, the backend becomes ready or not). It keeps no state
 * besides the instance (with the status the last decision wrote) and the observed objects, which is all a
 * restarted operator has too.
 */
import {
  type ConvexInstance,
  childNames,
  type DecidedEvent,
  type Decision,
  type KubeObject
} from "@convex-operator/core"
import {
  attemptAnnotation,
  findCondition,
  type JobStep,
  type UpgradeJobStep,
  upgradeJobName
} from "@convex-operator/core/internal"
import { Clock, Effect, TestClock } from "effect"
import { decideWithSagas, entropy, minimal, now, settle, simulateCluster } from "../decide/support.js"

export const v1 = "1111111111111111111111111111111111111111"
export const v2 = "2222222222222222222222222222222222222222"
export const v3 = "3333333333333333333333333333333333333333"
export const names = childNames("demo")

export type Strategy = "inPlace" | "exportImport"
export type JobFate = "Running" | "Succeeded" | "Failed"

/** How the simulated cluster treats what is applied. */
export interface ClusterBehaviour {
  /** How the Job of `step`, attempt `attempt`, ends (default: Succeeded). */
  readonly job?: (step: JobStep, attempt: number) => JobFate
  /** Whether a backend pod on `image` becomes ready, given the decided upgrade phase (default: yes). */
  readonly backendReady?: (image: string, phase: string | undefined) => boolean
}

export interface World {
  readonly instance: ConvexInstance
  readonly objects: ReadonlyArray<KubeObject>
  readonly decision: Decision
}

export const spec = (version: string, strategy: Strategy, extra: Record<string, unknown> = {}) => ({
  version,
  maintenance: { upgradeStrategy: strategy },
  networking: { host: "api.example.com" },
  ...extra
})

const jobSteps: ReadonlyArray<UpgradeJobStep> = ["SaveEnv", "Import", "RestoreEnv"]

/** The step of an upgrade Job, from its name. */
export const stepOfJob = (name: string, hash: string): UpgradeJobStep | undefined =>
  jobSteps.find((step) => upgradeJobName(names, step, hash) === name)

const fateOf = (object: KubeObject, step: JobStep, behaviour: ClusterBehaviour): JobFate =>
  behaviour.job?.(step, Number(object.metadata.annotations?.[attemptAnnotation] ?? "1")) ?? "Succeeded"

/**
 * A pre-upgrade ConvexBackup as the backup controller leaves it: its phase is the Export step's fate, final once
 * Completed or Failed.
 */
const backupAs = (object: KubeObject, behaviour: ClusterBehaviour): KubeObject => {
  const phase = (object as { status?: { phase?: string } }).status?.phase
  if (phase === "Completed" || phase === "Failed") return object
  const fate = fateOf(object, "Export", behaviour)
  const name = object.metadata.name ?? ""
  return {
    ...object,
    metadata: { ...object.metadata, creationTimestamp: "2025-06-01T12:00:00Z" },
    status:
      fate === "Succeeded"
        ? { phase: "Completed", location: `pvc://demo-backups/${name}.zip` }
        : { phase: fate === "Failed" ? "Failed" : "Running" }
  }
}

const backendImageOf = (object: KubeObject): string =>
  (object as unknown as { spec: { template: { spec: { containers: ReadonlyArray<{ image: string }> } } } }).spec
    .template.spec.containers[0]?.image ?? ""

/**
 * What the cluster makes of a decision's desired objects. ConvexBackups stay once created (the operator renders
 * them only while absent and never deletes them).
 */
export const observe = (
  decision: Decision,
  behaviour: ClusterBehaviour = {},
  before: ReadonlyArray<KubeObject> = []
): ReadonlyArray<KubeObject> => {
  const kept = before.filter((object) => object.kind === "ConvexBackup")
  const created = decision.desired.filter((object) => object.kind === "ConvexBackup")
  return [
    ...simulateCluster(decision.desired.filter((object) => object.kind !== "ConvexBackup")).map((object) =>
      job(decision, object, behaviour)
    ),
    ...[...kept, ...created].map((object) => backupAs(object, behaviour))
  ]
}

/** A simulated object, with a Job ended (or not) as the test says and a backend ready (or not). */
const job = (decision: Decision, object: KubeObject, behaviour: ClusterBehaviour): KubeObject => {
  if (
    object.kind === "StatefulSet" &&
    behaviour.backendReady?.(backendImageOf(object), decision.status.upgrade?.phase) === false
  ) {
    return { ...object, status: { observedGeneration: 1, replicas: 1, readyReplicas: 0, updatedReplicas: 1 } }
  }
  if (object.kind !== "Job") return object
  const hash = decision.status.upgrade?.targetHash ?? ""
  const step = stepOfJob(object.metadata.name ?? "", hash)
  const fate = step === undefined ? "Succeeded" : fateOf(object, step, behaviour)
  return fate === "Succeeded"
    ? object
    : {
        ...object,
        status:
          fate === "Failed"
            ? { failed: 1, conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded" }] }
            : { active: 1 }
      }
}

/** An instance settled and Ready on v1 at {@link now}, with the TestClock set to {@link now}. */
export const readyOnV1 = (strategy: Strategy, extra: Record<string, unknown> = {}) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(now.getTime())
    const settled = settle(minimal(spec(v1, strategy, extra)), [])
    return { instance: settled.instance, objects: settled.objects, decision: settled.decision } satisfies World
  })

/** The same world with the instance's spec (or metadata) changed. */
export const withInstance = (world: World, instance: ConvexInstance): World => ({
  ...world,
  instance: { ...instance, status: world.decision.status }
})

/** Moves the instance to `version` (keeping its status). */
export const retarget = (
  world: World,
  version: string,
  strategy: Strategy,
  extra: Record<string, unknown> = {}
): World => withInstance(world, minimal(spec(version, strategy, extra)))

/** Sets an annotation on the instance. */
export const annotate = (world: World, key: string, value: string): World =>
  withInstance(world, {
    ...world.instance,
    metadata: { ...world.instance.metadata, annotations: { ...world.instance.metadata.annotations, [key]: value } }
  })

/**
 * One decision at the TestClock's time; the cluster's objects afterwards are what `next` makes of the decision and
 * the objects before it.
 */
export const tickWith = (world: World, next: (decision: Decision, objects: World["objects"]) => World["objects"]) =>
  Effect.gen(function* () {
    const at = new Date(yield* Clock.currentTimeMillis)
    const instance = { ...world.instance, status: world.decision.status }
    // With the sagas' moves from what the cluster holds, as the operator's saga fibers would propose them.
    const decision = decideWithSagas(instance, { objects: world.objects, entropy }, at)
    return {
      instance: { ...world.instance, status: decision.status },
      objects: next(decision, world.objects),
      decision
    } satisfies World
  })

/** One decision at the TestClock's time, applied to the simulated cluster. */
export const tick = (world: World, behaviour: ClusterBehaviour = {}) =>
  tickWith(world, (decision, objects) => observe(decision, behaviour, objects))

/** A short description of where the upgrade is, for traces of phases seen. */
export const where = (decision: Decision): string => {
  const upgrade = decision.status.upgrade
  const reason = findCondition(decision.status.conditions, "UpgradeInProgress")?.reason
  return upgrade === undefined
    ? `${decision.status.phase}/${reason}`
    : `${decision.status.phase}/${reason}/${upgrade.phase}#${upgrade.attempt ?? 1}`
}

/** Ticks until `done` holds (at most `limit` ticks), recording every distinct {@link where} and every event. */
export const runUntil = (world: World, done: (world: World) => boolean, behaviour: ClusterBehaviour = {}, limit = 20) =>
  Effect.gen(function* () {
    let current = world
    const seen: Array<string> = []
    const events: Array<DecidedEvent> = []
    for (let i = 0; i < limit; i++) {
      current = yield* tick(current, behaviour)
      events.push(...current.decision.events)
      const step = where(current.decision)
      if (seen.at(-1) !== step) seen.push(step)
      if (done(current)) return { world: current, seen, events }
    }
    throw new Error(`not done after ${limit} ticks; seen ${seen.join(" → ")}`)
  })

/** The Jobs a decision renders: name and attempt. */
export const jobsOf = (decision: Decision) =>
  decision.desired
    .filter((object) => object.kind === "Job")
    .map((object) => `${object.metadata.name}#${object.metadata.annotations?.[attemptAnnotation]}`)

/** Whether an object of `kind` (and `name`) is desired. */
export const has = (decision: Decision, kind: string, name?: string) =>
  decision.desired.some((object) => object.kind === kind && (name === undefined || object.metadata.name === name))

/** `status/reason` of a condition. */
export const condition = (decision: Decision, type: Parameters<typeof findCondition>[1]) => {
  const found = findCondition(decision.status.conditions, type)
  return `${found?.status}/${found?.reason}`
}

export { now }

/** The pre-upgrade ConvexBackups a decision creates: name and attempt. */
export const backupsOf = (decision: Decision) =>
  decision.desired
    .filter((object) => object.kind === "ConvexBackup")
    .map((object) => `${object.metadata.name}#${object.metadata.annotations?.[attemptAnnotation]}`)

/** The ConvexBackups in the simulated cluster: name and phase. */
export const backupsIn = (world: World) =>
  world.objects
    .filter((object) => object.kind === "ConvexBackup")
    .map((object) => `${object.metadata.name}/${(object as { status?: { phase?: string } }).status?.phase}`)
