/**
 * The restore of a new instance (`spec.restore`) as a program: while the journal (`status.restore`) says the import
 * runs, one fiber per instance waits, on the instance's change stream, for the import Job of the journaled attempt
 * to succeed or fail, and proposes that end (core's `restoreNext`); the reconcile journals it (Succeeded: Ready may
 * follow; Failed: it waits for a retry request, which the decision takes, and a new attempt gets a new run). The
 * start of the import (the backend ready, the source there) is the decision's, journaled before the Job is created.
 *
 * @module
 */
import { type RestoreMove, restoreNext } from "@convex-operator/core"
import { Clock, Effect } from "effect"
import { equalJson } from "../../../shell/equal-json.js"
import type { SagaHost, SagaKind, SagaSnapshot } from "./host.js"

const runningAttempt = (snapshot: SagaSnapshot) => {
  const restore = snapshot.instance.status?.restore
  return restore?.phase === "Running" ? (restore.attempt ?? 1) : undefined
}

/** Waits for the running import to end and proposes its end; over once the journal no longer says it runs. */
export const restoreSaga = (host: SagaHost<RestoreMove>, attempt: number): Effect.Effect<void> =>
  Effect.gen(function* () {
    for (;;) {
      const snapshot = yield* host.latest
      if (runningAttempt(snapshot) !== attempt) return
      const move = restoreNext(snapshot.instance, snapshot.objects, new Date(yield* Clock.currentTimeMillis))
      if (move !== undefined) yield* host.propose(move)
      yield* host.changedSince(snapshot, undefined)
    }
  }).pipe(Effect.annotateLogs({ saga: "restore" }))

/** The restore saga: a run per attempt of the import while the journal says it runs. */
export const restoreSagaKind: SagaKind<RestoreMove> = {
  proposes: "restoreMove",
  runs: (snapshot) => {
    const attempt = runningAttempt(snapshot)
    return attempt === undefined ? undefined : `attempt ${attempt}`
  },
  // Its import Job is all it reads besides the instance.
  keeps: (snapshot) => ({ instance: snapshot.instance, objects: snapshot.objects.filter((o) => o.kind === "Job") }),
  current: (move, snapshot) => equalJson(move.from, snapshot.instance.status?.restore),
  program: (host, id) => restoreSaga(host, Number(id.slice("attempt ".length)))
}
