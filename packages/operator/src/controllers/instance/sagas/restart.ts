/**
 * The periodic restart as a program (`maintenance.restartInterval`): one fiber per instance with an interval, in the
 * instance's scope. Every interval: sleep until the restart falls due (by the Clock, so an idle instance costs no CPU
 * and the TestClock drives it), propose it, and wait until the journal (`status.lastRestartTime`) shows it; the
 * next interval counts from there. The due time is re-read from each snapshot (the backend's last start, an upgrade
 * running meanwhile), and the rules are core's (`restartNext`). The reconcile that takes the move writes
 * `lastRestartTime` before it rolls the pod (journal.ts), so a restart is never made twice.
 *
 * @module
 */
import { childNames, type RestartMove, restartNext } from "@convex-operator/core"
import { goDurationMillis } from "@convex-operator/core/internal"
import { Clock, Effect } from "effect"
import type { SagaHost, SagaKind } from "./host.js"

/** Restarts the backend every interval, for as long as the instance has one. */
export const restartSaga = (host: SagaHost<RestartMove>): Effect.Effect<void> =>
  Effect.gen(function* () {
    for (;;) {
      const snapshot = yield* host.latest
      const next = restartNext(snapshot.instance, snapshot.objects, new Date(yield* Clock.currentTimeMillis))
      if (next.move !== undefined) yield* host.propose(next.move)
      // Until the restart falls due, or the journal or the backend changes what is due.
      yield* host.changedSince(snapshot, next.wakeAt)
    }
  }).pipe(Effect.annotateLogs({ saga: "restart" }))

/** The restart saga: one run while the instance has a restart interval. */
export const restartSagaKind: SagaKind<RestartMove> = {
  proposes: "restartMove",
  runs: (snapshot) =>
    (goDurationMillis(snapshot.instance.spec.maintenance.restartInterval) ?? 0) > 0 ? "periodic" : undefined,
  // The backend StatefulSet is all it reads besides the instance.
  keeps: (snapshot) => {
    const backend = childNames(snapshot.instance.metadata.name ?? "").backend
    const objects = snapshot.objects.filter(
      (object) => object.kind === "StatefulSet" && object.metadata.name === backend
    )
    return { instance: snapshot.instance, objects }
  },
  current: (move, snapshot) => move.from === snapshot.instance.status?.lastRestartTime,
  program: (host) => restartSaga(host)
}
