/**
 * Recording the events a core decision asks for: core names them `{ type, reason, action, message }`, the
 * EventRecorder takes an `EventSpec` about the object they concern.
 *
 * @module
 */
import { EventRecorder, type EventSpec, type KubeObject } from "@convex-operator/k8s"
import { Effect } from "effect"

/** An event as core's decisions describe it. */
export interface DecidedEvent {
  readonly type: EventSpec["type"]
  readonly reason: string
  readonly action: string
  readonly message: string
}

/** Records each of `events` on `regarding`, in order. */
export const recordEvents = (regarding: KubeObject, events: ReadonlyArray<DecidedEvent>) =>
  Effect.flatMap(EventRecorder, (recorder) =>
    Effect.forEach(
      events,
      (event) =>
        recorder.record({
          regarding,
          type: event.type,
          reason: event.reason,
          action: event.action,
          note: event.message
        }),
      { discard: true }
    )
  )
