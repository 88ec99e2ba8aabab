/**
 * The restart plan of `maintenance.restartInterval`: restart the backend that long after it last started, to
 * contain memory growth. A pure state machine over the status and now:
 *
 * - `Disabled` (interval 0): nothing is triggered; the last restart annotation stays as it is (removing it would
 *   roll the pod);
 * - `Waiting`: not due yet, or the backend is not ready or an upgrade runs; wake up at `dueAt`;
 * - `Restart`: due now; the decision writes `status.lastRestartTime = now`, and the backend pod template's
 *   `convex.icod.de/restarted-at` annotation (which always equals `status.lastRestartTime`) rolls the pod.
 *
 * The backend "started" at the later of the last restart and the last time StatefulSetReady became True.
 *
 * The operator's restart saga (a fiber per instance with an interval) sleeps until `dueAt` and proposes the restart
 * (`restartNext`); `decide` restarts only on that move ({@link RestartMove}), journaling `status.lastRestartTime`.
 *
 * @module
 */
import type { ConvexInstance } from "../../api/index.js"
import { childNames } from "../../render/names.js"
import type { ObservedIndex } from "../../render/observed.js"
import { findCondition, formatTime } from "../status/conditions.js"
import { statefulSetReadiness } from "../status/workloads.js"
import { goDurationMillis } from "./duration.js"

/** What the restart plan reads. */
export interface RestartInput {
  /** `maintenance.restartInterval`. */
  readonly interval: string
  /** `status.lastRestartTime`. */
  readonly lastRestartTime: string | undefined
  /** When StatefulSetReady last became True, if it is True now. */
  readonly readySince: string | undefined
  /** Whether an upgrade is running (restarts wait for it). */
  readonly upgrading: boolean
  readonly now: Date
}

/** The plan's decision. */
export type RestartPlan =
  | { readonly _tag: "Disabled"; readonly restartedAt: string | undefined }
  | { readonly _tag: "Waiting"; readonly restartedAt: string | undefined; readonly dueAt: Date | undefined }
  | { readonly _tag: "Restart"; readonly restartedAt: string; readonly dueAt: Date }

/** The largest time a Date holds (ECMAScript: ±8.64e15 ms around the epoch). */
const maxDateMillis = 8.64e15

const parse = (time: string | undefined): number | undefined => {
  if (time === undefined) return undefined
  const millis = Date.parse(time)
  return Number.isNaN(millis) ? undefined : millis
}

/** Decides whether the backend restarts now. */
export const planRestart = (input: RestartInput): RestartPlan => {
  const interval = goDurationMillis(input.interval)
  const restartedAt = input.lastRestartTime
  if (interval === undefined || interval <= 0) return { _tag: "Disabled", restartedAt }
  const readySince = parse(input.readySince)
  if (readySince === undefined || input.upgrading) return { _tag: "Waiting", restartedAt, dueAt: undefined }
  const started = Math.max(readySince, parse(restartedAt) ?? 0)
  const dueAt = started + interval
  // An interval so long that the due time is past what a Date holds (a valid duration like 999999999999h) is never
  // due; without this the wake-up time would be NaN, and a NaN requeue means "at once", forever.
  if (!(dueAt <= maxDateMillis)) return { _tag: "Waiting", restartedAt, dueAt: undefined }
  if (input.now.getTime() >= dueAt) {
    return { _tag: "Restart", restartedAt: formatTime(input.now), dueAt: new Date(dueAt) }
  }
  return { _tag: "Waiting", restartedAt, dueAt: new Date(dueAt) }
}

/** The restart plan's input for `instance` from what is observed; `upgrading`: an upgrade runs or failed. */
export const restartInputOf = (
  instance: ConvexInstance,
  index: ObservedIndex,
  upgrading: boolean,
  now: Date
): RestartInput => {
  const previous = instance.status
  const backendReady = statefulSetReadiness(index.get("StatefulSet", childNames(instance.metadata.name ?? "").backend))
  const statefulSetReady = findCondition(previous?.conditions, "StatefulSetReady")
  return {
    interval: instance.spec.maintenance.restartInterval,
    lastRestartTime: previous?.lastRestartTime,
    // The backend started when StatefulSetReady last became True (now, if it becomes True in this decision).
    readySince: !backendReady.ready
      ? undefined
      : statefulSetReady?.status === "True"
        ? statefulSetReady.lastTransitionTime
        : formatTime(now),
    upgrading,
    now
  }
}

/**
 * A move of the restart saga: the restart that fell due at `due`, from the journal's `lastRestartTime` (`from`; a
 * move whose `from` is no longer journaled is stale: a restart happened since).
 */
export interface RestartMove {
  readonly from: string | undefined
  readonly due: string
}

/** Where the restart saga goes next: the restart to propose now, or when it falls due. */
export interface RestartNext {
  readonly move: RestartMove | undefined
  readonly wakeAt: Date | undefined
}

/** The restart saga's next move from the plan of `input`. */
export const nextRestartMove = (input: RestartInput): RestartNext => {
  const plan = planRestart(input)
  if (plan._tag === "Restart") {
    return { move: { from: input.lastRestartTime, due: formatTime(plan.dueAt) }, wakeAt: undefined }
  }
  return { move: undefined, wakeAt: plan._tag === "Waiting" ? plan.dueAt : undefined }
}
