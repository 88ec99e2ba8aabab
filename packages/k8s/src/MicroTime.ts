/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits (`Date.toISOString` has three, which Events and Leases reject). */
import { Clock, Effect } from "effect"

export const format = (millis: number): string => `${new Date(millis).toISOString().slice(0, 23)}000Z`

/** MicroTime of the current Clock (TestClock-friendly). */
export const now: Effect.Effect<string> = Effect.map(Clock.currentTimeMillis, format)
