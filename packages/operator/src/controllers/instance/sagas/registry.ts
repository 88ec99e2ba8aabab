/**
 * The instances' sagas: at most one fiber per instance and kind of saga (upgrade.ts, restart.ts, restore.ts), started when a
 * reconcile observes a journal that asks for a run no fiber runs, forked in the instance's scope (the Supervisor's
 * per-key Scope when the reconcile runs on the instance's fiber), and gone when it ends, when the instance is deleted,
 * or when the scope closes (the operator stopped or lost its lease).
 *
 * The reconciles feed each saga its instance's snapshots and take its proposals; see host.ts.
 *
 * @module
 */
import { Alarm, type ObjectKey } from "@convex-operator/k8s"
import { Deferred, Effect, Exit, Fiber, FiberId, type Scope } from "effect"
import { equalJson } from "../../../shell/equal-json.js"
import type { SagaHost, SagaKind, SagaMove, SagaProposals, SagaSnapshot } from "./host.js"
import { restartSagaKind } from "./restart.js"
import { restoreSagaKind } from "./restore.js"
import { upgradeSagaKind } from "./upgrade.js"

/** Every kind of saga an instance may run. */
const kinds: ReadonlyArray<SagaKind<SagaMove>> = [
  upgradeSagaKind as SagaKind<SagaMove>,
  restartSagaKind as SagaKind<SagaMove>,
  restoreSagaKind as SagaKind<SagaMove>
]

/** What a reconcile of an instance does with its sagas. */
export interface InstanceSagas {
  /**
   * Hands the instance's sagas what this reconcile observed (its journal included); starts each saga the journal
   * asks for that no fiber runs, and drops proposals the journal has left.
   */
  readonly observed: (key: ObjectKey, snapshot: SagaSnapshot) => Effect.Effect<void>
  /** The moves the instance's sagas propose now. */
  readonly proposals: (key: ObjectKey) => SagaProposals
}

export interface SagaRegistry {
  /**
   * The sagas as the reconciles that run in `scope` see them: sagas they start are forked there (the instance's
   * Scope); without one, in the registry's own.
   */
  readonly in: (scope: Scope.Scope | undefined) => InstanceSagas
  /** Interrupts the instance's sagas (the instance was deleted). */
  readonly forget: (key: ObjectKey) => Effect.Effect<void>
  /** The instances with a saga of `kind` running now. */
  readonly running: (kind: keyof SagaProposals) => ReadonlyArray<ObjectKey>
}

interface Entry {
  readonly id: string
  /** The latest snapshot, and the signal completed (and replaced) when a newer one arrives. */
  latest: SagaSnapshot
  changed: Deferred.Deferred<void>
  proposal: SagaMove | undefined
  fiber: Fiber.RuntimeFiber<void> | undefined
}

/** A registry whose sagas wake their instance's reconcile with `wake`; its own scope is the current one. */
export const makeSagaRegistry = (
  wake: (key: ObjectKey) => Effect.Effect<void>
): Effect.Effect<SagaRegistry, never, Scope.Scope> =>
  Effect.gen(function* () {
    const own = yield* Effect.scope
    const alarm = yield* Alarm.make<Entry>()
    /** Per kind: instance → its running saga. */
    const entries = new Map(kinds.map((kind) => [kind.proposes, new Map<ObjectKey, Entry>()]))
    const entriesOf = (kind: SagaKind<SagaMove>) => entries.get(kind.proposes) ?? new Map<ObjectKey, Entry>()

    /** Wakes the saga of `entry` from its wait: completes the signal it waits on, and sets up the next one. */
    const signal = (entry: Entry) => {
      const changed = entry.changed
      entry.changed = Deferred.unsafeMake(FiberId.none)
      Deferred.unsafeDone(changed, Exit.void)
    }

    const hostOf = (key: ObjectKey, entry: Entry): SagaHost<SagaMove> => ({
      latest: Effect.sync(() => entry.latest),
      // A Deferred per snapshot rather than a stream of them: a saga looks only at the latest, and this is woken on
      // every reconcile of its instance (a subscription per wait cost a measurable share of the operator's CPU).
      // The time by the registry's one Alarm, not a race with a sleep (two more fibers per waiting saga): when it
      // is due, the saga is woken as by a snapshot, and finds the latest one unchanged.
      changedSince: (seen, until) =>
        Effect.suspend(() => {
          if (entry.latest !== seen) return Effect.void
          const changed = entry.changed
          const wait = Deferred.await(changed)
          if (until === undefined) return wait
          return Effect.zipRight(
            // Unless a snapshot has woken it meanwhile.
            alarm.set(entry, until.getTime(), () => {
              if (entry.changed === changed) signal(entry)
            }),
            wait
          )
        }),
      propose: (move) =>
        Effect.suspend(() => {
          const fresh = entry.proposal === undefined || !equalJson(entry.proposal.from, move.from)
          entry.proposal = move
          return fresh ? wake(key) : Effect.void
        })
    })

    const start = (kind: SagaKind<SagaMove>, key: ObjectKey, snapshot: SagaSnapshot, id: string, scope: Scope.Scope) =>
      Effect.gen(function* () {
        const running = entriesOf(kind)
        const entry: Entry = {
          id,
          latest: snapshot,
          changed: Deferred.unsafeMake(FiberId.none),
          proposal: undefined,
          fiber: undefined
        }
        running.set(key, entry)
        entry.fiber = yield* kind.program(hostOf(key, entry), id).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              alarm.unsafeClear(entry)
              if (running.get(key) === entry) running.delete(key)
            })
          ),
          Effect.forkIn(scope)
        )
      })

    const observedBy = (kind: SagaKind<SagaMove>, key: ObjectKey, observed: SagaSnapshot, scope: Scope.Scope) =>
      Effect.gen(function* () {
        const running = entriesOf(kind)
        const entry = running.get(key)
        const id = kind.runs(observed)
        const snapshot = kind.keeps(observed)
        if (entry !== undefined) {
          if (id === entry.id) {
            if (entry.proposal !== undefined && !kind.current(entry.proposal, snapshot)) entry.proposal = undefined
            entry.latest = snapshot
            return signal(entry)
          }
          // The journal no longer asks for this run (done, failed, replaced, or the interval set to 0).
          running.delete(key)
          if (entry.fiber !== undefined) yield* Fiber.interruptFork(entry.fiber)
        }
        if (id !== undefined) yield* start(kind, key, snapshot, id, scope)
      })

    return {
      in: (scope) => ({
        observed: (key, snapshot) =>
          Effect.forEach(kinds, (kind) => observedBy(kind, key, snapshot, scope ?? own), { discard: true }),
        proposals: (key) => {
          const proposals: Record<string, SagaMove> = {}
          for (const kind of kinds) {
            const proposal = entriesOf(kind).get(key)?.proposal
            if (proposal !== undefined) proposals[kind.proposes] = proposal
          }
          return proposals as SagaProposals
        }
      }),
      forget: (key) =>
        Effect.forEach(
          kinds,
          (kind) => {
            const entry = entriesOf(kind).get(key)
            entriesOf(kind).delete(key)
            return entry?.fiber === undefined ? Effect.void : Fiber.interrupt(entry.fiber)
          },
          { discard: true }
        ),
      running: (kind) => [...(entries.get(kind)?.keys() ?? [])]
    } satisfies SagaRegistry
  })
