/**
 * The instances' sagas: at most one saga fiber per instance, started when a reconcile observes a journal
 * (`status.upgrade`) that runs an upgrade no saga runs, forked in the instance's scope (the Supervisor's per-key
 * Scope when the reconcile runs on the instance's fiber), and gone when it ends, when the instance is deleted, or
 * when the scope closes (the operator stopped or lost its lease). An instance without a running upgrade has no entry
 * here and costs nothing.
 *
 * The reconciles feed each saga its instance's snapshots and take its proposals; see host.ts.
 *
 * @module
 */
import type { UpgradeMove } from "@convex-operator/core"
import type { ObjectKey } from "@convex-operator/k8s"
import { Clock, Effect, Fiber, type Scope, Stream, SubscriptionRef } from "effect"
import { equalJson } from "../../../shell/equal-json.js"
import type { SagaHost, SagaSnapshot } from "./host.js"
import { upgradeSaga } from "./upgrade.js"

/** What a reconcile of an instance does with its sagas. */
export interface InstanceSagas {
  /**
   * Hands the instance's saga what this reconcile observed (its journal included); starts the upgrade saga when the
   * journal runs an upgrade and no saga runs it.
   */
  readonly observed: (key: ObjectKey, snapshot: SagaSnapshot) => Effect.Effect<void>
  /** The move the instance's saga proposes now, if any. */
  readonly proposal: (key: ObjectKey) => UpgradeMove | undefined
}

export interface SagaRegistry {
  /**
   * The sagas as the reconciles that run in `scope` see them: sagas they start are forked there (the instance's
   * Scope); without one, in the registry's own.
   */
  readonly in: (scope: Scope.Scope | undefined) => InstanceSagas
  /** Interrupts the instance's saga (the instance was deleted). */
  readonly forget: (key: ObjectKey) => Effect.Effect<void>
  /** The instances whose saga runs now. */
  readonly running: () => ReadonlyArray<ObjectKey>
}

interface Entry {
  readonly hash: string
  readonly snapshots: SubscriptionRef.SubscriptionRef<SagaSnapshot>
  proposal: UpgradeMove | undefined
  fiber: Fiber.RuntimeFiber<void> | undefined
}

/** Whether `snapshot`'s journal runs an upgrade (a failed one waits for a retry request, which the decision takes). */
const runningUpgrade = (snapshot: SagaSnapshot) => {
  const upgrade = snapshot.instance.status?.upgrade
  return upgrade === undefined || upgrade.phase === "Failed" ? undefined : upgrade
}

/** A registry whose sagas wake their instance's reconcile with `wake`; its own scope is the current one. */
export const makeSagaRegistry = (
  wake: (key: ObjectKey) => Effect.Effect<void>
): Effect.Effect<SagaRegistry, never, Scope.Scope> =>
  Effect.gen(function* () {
    const own = yield* Effect.scope
    const entries = new Map<ObjectKey, Entry>()

    const hostOf = (key: ObjectKey, entry: Entry): SagaHost => ({
      latest: SubscriptionRef.get(entry.snapshots),
      changedSince: (seen, until) => {
        const changed = entry.snapshots.changes.pipe(
          Stream.filter((snapshot) => snapshot !== seen),
          Stream.runHead,
          Effect.asVoid
        )
        if (until === undefined) return changed
        return Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.raceFirst(changed, Effect.sleep(Math.max(0, until.getTime() - now)))
        )
      },
      propose: (move) =>
        Effect.suspend(() => {
          if (entry.proposal !== undefined && equalJson(entry.proposal, move)) return Effect.void
          entry.proposal = move
          return wake(key)
        })
    })

    const start = (key: ObjectKey, snapshot: SagaSnapshot, hash: string, scope: Scope.Scope) =>
      Effect.gen(function* () {
        const entry: Entry = {
          hash,
          snapshots: yield* SubscriptionRef.make(snapshot),
          proposal: undefined,
          fiber: undefined
        }
        entries.set(key, entry)
        entry.fiber = yield* upgradeSaga(hostOf(key, entry), hash).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              if (entries.get(key) === entry) entries.delete(key)
            })
          ),
          Effect.forkIn(scope)
        )
      })

    const observed = (scope: Scope.Scope | undefined) => (key: ObjectKey, snapshot: SagaSnapshot) =>
      Effect.gen(function* () {
        const entry = entries.get(key)
        const upgrade = runningUpgrade(snapshot)
        if (entry !== undefined) {
          // A proposal the journal has left (journaled, or overtaken) is no longer one.
          if (entry.proposal !== undefined && !equalJson(entry.proposal.from, snapshot.instance.status?.upgrade)) {
            entry.proposal = undefined
          }
          yield* SubscriptionRef.set(entry.snapshots, snapshot)
          // The saga ends by itself when the journal no longer runs its upgrade (it sees this snapshot).
          if (upgrade === undefined || upgrade.targetHash === entry.hash) return
          entries.delete(key)
          if (entry.fiber !== undefined) yield* Fiber.interruptFork(entry.fiber)
        }
        if (upgrade !== undefined) yield* start(key, snapshot, upgrade.targetHash, scope ?? own)
      })

    return {
      in: (scope) => ({
        observed: observed(scope),
        proposal: (key) => entries.get(key)?.proposal
      }),
      forget: (key) =>
        Effect.suspend(() => {
          const entry = entries.get(key)
          entries.delete(key)
          return entry?.fiber === undefined ? Effect.void : Fiber.interrupt(entry.fiber).pipe(Effect.asVoid)
        }),
      running: () => [...entries.keys()]
    } satisfies SagaRegistry
  })
