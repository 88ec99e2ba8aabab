/**
 * What a saga fiber sees of its instance and how it acts: the snapshots the instance's reconciles observed (its
 * change stream: a reconcile runs when the instance or one of its children or references changed), and proposals of
 * the next move for the next reconcile to journal. A saga never writes itself: the reconcile, which alone writes an
 * instance's status, journals the move before it acts on it (journal.ts), so a saga and a reconcile of one instance
 * never write side by side.
 *
 * @module
 */
import type { ConvexInstance, KubeObject, UpgradeMove } from "@convex-operator/core"
import { Data, type Effect } from "effect"

/** What one reconcile observed of an instance: the instance (its journal, `status`) and its children. */
export interface SagaSnapshot {
  readonly instance: ConvexInstance
  readonly objects: ReadonlyArray<KubeObject>
}

export interface SagaHost {
  /** The latest snapshot. */
  readonly latest: Effect.Effect<SagaSnapshot>
  /**
   * Waits until a reconcile observed the instance again after `seen`, or until the Clock reaches `until` (when time
   * alone may move the saga on), whichever comes first.
   */
  readonly changedSince: (seen: SagaSnapshot, until: Date | undefined) => Effect.Effect<void>
  /** Proposes `move` to the next reconcile, waking the instance (nothing when it is the move proposed already). */
  readonly propose: (move: UpgradeMove) => Effect.Effect<void>
}

/** The saga's work is over: the journal no longer runs the upgrade it was started for (done, failed or replaced). */
export class SagaEnded extends Data.TaggedError("SagaEnded")<{ readonly why: string }> {}
