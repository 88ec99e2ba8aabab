/**
 * What the contract suite needs besides a KubeClient: a way to compact the history (410s), and the
 * custom kind it tests with. Provided by the memory run (unit) and the real-apiserver run (integration).
 */
import { Context, Effect, Schedule } from "effect"
import { Resource } from "../../src/index.js"

export const Gizmo = Resource.make({
  group: "k8s.convex-operator.test",
  version: "v1",
  kind: "Gizmo",
  plural: "gizmos",
  namespaced: true
})

export class ContractHarness extends Context.Tag("test/ContractHarness")<
  ContractHarness,
  {
    /** Forget the history up to now (memory: compact; real: etcd compaction at the current revision). */
    readonly compact: Effect.Effect<void, unknown>
    readonly name: string
  }
>() {}

/** Retries `check` until it succeeds (at once in memory; polls a real apiserver for up to 30 s). */
export const eventually = <A, E, R>(check: Effect.Effect<A, E, R>) =>
  check.pipe(
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("30 seconds"))),
    Effect.withSpan("eventually")
  )

let counter = 0
/** A name no other test of this run uses. */
export const uniqueName = (prefix: string) =>
  `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`
