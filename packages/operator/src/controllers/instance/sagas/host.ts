/**
 * What a saga fiber sees of its instance and how it acts: the snapshots the instance's reconciles observed (its
 * change stream: a reconcile runs when the instance or one of its children or references changed), and proposals of
 * the next move for the next reconcile to journal. A saga never writes itself: the reconcile, which alone writes an
 * instance's status, journals the move before it acts on it (journal.ts), so a saga and a reconcile of one instance
 * never write side by side.
 *
 * @module
 */
import type { ConvexInstance, KubeObject, RestartMove, RestoreMove, UpgradeMove } from "@convex-operator/core"
import { Data, type Effect } from "effect"

/** What one reconcile observed of an instance: the instance (its journal, `status`) and its children. */
export interface SagaSnapshot {
  readonly instance: ConvexInstance
  readonly objects: ReadonlyArray<KubeObject>
}

/** The moves the sagas of an instance propose, as `decide` takes them (`Observed`). */
export interface SagaProposals {
  readonly upgradeMove?: UpgradeMove | undefined
  readonly restartMove?: RestartMove | undefined
  readonly restoreMove?: RestoreMove | undefined
}

/** A move: from the journal it was computed from (`from`), so that a stale one is recognised. */
export type SagaMove = NonNullable<SagaProposals[keyof SagaProposals]>

export interface SagaHost<M extends SagaMove> {
  /** The latest snapshot. */
  readonly latest: Effect.Effect<SagaSnapshot>
  /**
   * Waits until a reconcile observed the instance again after `seen`, or until the Clock reaches `until` (when time
   * alone may move the saga on), whichever comes first.
   */
  readonly changedSince: (seen: SagaSnapshot, until: Date | undefined) => Effect.Effect<void>
  /**
   * Proposes `move` to the next reconcile. The instance is woken for the first move from a journal only: a move
   * computed again from the same journal (at a later time) replaces the proposal quietly, so a proposal the decision
   * does not take never wakes the instance in a loop.
   */
  readonly propose: (move: M) => Effect.Effect<void>
}

/** A kind of saga: which run of it an instance's journal asks for, and the program of a run. */
export interface SagaKind<M extends SagaMove> {
  /** The field of {@link SagaProposals} its moves go to. */
  readonly proposes: keyof SagaProposals
  /** The run `snapshot` asks for (a new id replaces the running one), or none (a running one ends by itself). */
  readonly runs: (snapshot: SagaSnapshot) => string | undefined
  /** What of a snapshot the saga reads (it keeps only that, one snapshot per instance). */
  readonly keeps: (snapshot: SagaSnapshot) => SagaSnapshot
  /** Whether `move` was computed from the journal of `snapshot` (else it is stale). */
  readonly current: (move: M, snapshot: SagaSnapshot) => boolean
  readonly program: (host: SagaHost<M>, id: string) => Effect.Effect<void>
}

/** The saga's work is over: the journal no longer asks for the run it was started for. */
export class SagaEnded extends Data.TaggedError("SagaEnded")<{ readonly why: string }> {}
