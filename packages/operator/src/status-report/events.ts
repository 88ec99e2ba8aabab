/**
 * The last Warning events of an instance, newest first. Events are read as `events.k8s.io/v1` (the operator's
 * EventRecorder writes that shape: `regarding`, `note`, `series`); the `core/v1` shape (`involvedObject`, `message`,
 * `lastTimestamp`, `count`) is read too, since both APIs serve the same objects.
 *
 * @module
 */
import type { KubeObject } from "@convex-operator/k8s"
import type { EventLine } from "./model.js"

interface RawEvent {
  readonly metadata: { readonly creationTimestamp?: string }
  readonly type?: string
  readonly reason?: string
  readonly note?: string
  readonly message?: string
  readonly regarding?: { readonly kind?: string; readonly name?: string; readonly uid?: string }
  readonly involvedObject?: { readonly kind?: string; readonly name?: string; readonly uid?: string }
  readonly eventTime?: string | null
  readonly series?: { readonly count?: number; readonly lastObservedTime?: string }
  readonly deprecatedLastTimestamp?: string | null
  readonly deprecatedCount?: number
  readonly lastTimestamp?: string | null
  readonly count?: number
}

/** How many events the report shows. */
export const eventLimit = 5

/** The newest Warning events about the ConvexInstance `instance` (with UID `uid`, when known), newest first. */
export const warningEvents = (
  events: ReadonlyArray<KubeObject>,
  instance: string,
  uid: string | undefined
): ReadonlyArray<EventLine> =>
  events
    .map((object) => object as RawEvent)
    .filter((event) => {
      const about = event.regarding ?? event.involvedObject
      return (
        event.type === "Warning" &&
        about?.kind === "ConvexInstance" &&
        about.name === instance &&
        (uid === undefined || about.uid === undefined || about.uid === uid)
      )
    })
    .map((event): EventLine => {
      const at =
        event.series?.lastObservedTime ??
        event.deprecatedLastTimestamp ??
        event.lastTimestamp ??
        event.eventTime ??
        event.metadata.creationTimestamp
      return {
        reason: event.reason ?? "",
        message: event.note ?? event.message ?? "",
        ...(at !== undefined && at !== null ? { at } : {}),
        count: event.series?.count ?? event.deprecatedCount ?? event.count ?? 1
      }
    })
    .sort((a, b) => Date.parse(b.at ?? "") - Date.parse(a.at ?? "") || 0)
    .slice(0, eventLimit)
