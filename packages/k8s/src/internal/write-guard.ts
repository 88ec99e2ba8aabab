/**
 * The write guard: an effect the live client runs right before a write request (any method but GET) leaves, after
 * its wait for the rate limiter, so that a check made there holds for the moment of sending, not for the moment the
 * write was asked for. It may interrupt the calling fiber to keep the request from being sent. Set it around a write
 * with `Effect.locally` (LeaderElection.fenceWrites does); by default it does nothing.
 */
import { Effect, FiberRef } from "effect"
import { globalValue } from "effect/GlobalValue"

export const writeGuard: FiberRef.FiberRef<Effect.Effect<void>> = globalValue(
  Symbol.for("@convex-operator/k8s/writeGuard"),
  () => FiberRef.unsafeMake<Effect.Effect<void>>(Effect.void)
)
