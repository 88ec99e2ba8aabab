/**
 * `EventRecorder`: Kubernetes Events (`events.k8s.io/v1`) about objects a controller manages.
 * Repeats of the same event (same object, type, reason, action and note) within 6 minutes become a
 * series on the first Event (`series.count`, `series.lastObservedTime`) instead of new objects, as
 * client-go's events broadcaster does. Recording never fails the caller: errors are logged.
 */
import { Clock, Context, Effect, Layer, Ref } from "effect"
import { KubeClient } from "./KubeClient.js"
import * as MicroTime from "./MicroTime.js"
import { Event, type KubeObject } from "./Resource.js"

export interface ObjectReference {
  readonly apiVersion: string
  readonly kind: string
  readonly name: string
  readonly namespace?: string
  readonly uid?: string
  readonly resourceVersion?: string
}

export interface EventSpec {
  readonly regarding: KubeObject | ObjectReference
  readonly type: "Normal" | "Warning"
  /** Why, CamelCase: `SecretMissing`. */
  readonly reason: string
  /** What the controller did or failed to do, CamelCase: `Reconcile`. */
  readonly action: string
  /** Human-readable detail (at most 1 kB). */
  readonly note?: string
  readonly related?: KubeObject | ObjectReference
}

export interface EventRecorderService {
  readonly record: (event: EventSpec) => Effect.Effect<void>
}

export interface EventRecorderOptions {
  /** `reportingController`, e.g. `convex.icod.de/convex-operator`. */
  readonly controller: string
  /** `reportingInstance`, e.g. the Pod name. */
  readonly instance: string
  /** Repeats within this window join a series (default 6 minutes, as client-go). */
  readonly seriesWindowMillis?: number
}

const referenceOf = (o: KubeObject | ObjectReference): ObjectReference =>
  "metadata" in o
    ? {
        apiVersion: o.apiVersion,
        kind: o.kind,
        name: o.metadata.name ?? "",
        ...(o.metadata.namespace === undefined ? {} : { namespace: o.metadata.namespace }),
        ...(o.metadata.uid === undefined ? {} : { uid: o.metadata.uid }),
        ...(o.metadata.resourceVersion === undefined ? {} : { resourceVersion: o.metadata.resourceVersion })
      }
    : o

const truncate = (note: string) => (Buffer.byteLength(note) <= 1024 ? note : `${note.slice(0, 1000)}…`)

export class EventRecorder extends Context.Tag("@convex-operator/k8s/EventRecorder")<
  EventRecorder,
  EventRecorderService
>() {
  /** Writes Events through the KubeClient. */
  static readonly layer = (options: EventRecorderOptions): Layer.Layer<EventRecorder, never, KubeClient> =>
    Layer.effect(EventRecorder, make(options))
  /** Keeps events in memory (see {@link RecordedEvents}), for tests of code that records events. */
  static readonly layerTest: Layer.Layer<EventRecorder | RecordedEvents> = Layer.effectContext(
    Effect.map(Ref.make<ReadonlyArray<EventSpec>>([]), (ref) =>
      Context.make(EventRecorder, { record: (event: EventSpec) => Ref.update(ref, (es) => [...es, event]) }).pipe(
        Context.add(RecordedEvents, Ref.get(ref))
      )
    )
  )
}

export class RecordedEvents extends Context.Tag("@convex-operator/k8s/RecordedEvents")<
  RecordedEvents,
  Effect.Effect<ReadonlyArray<EventSpec>>
>() {}

interface Seen {
  readonly name: string
  readonly namespace: string
  count: number
  lastObserved: number
}

export const make = (options: EventRecorderOptions): Effect.Effect<EventRecorderService, never, KubeClient> =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const window = options.seriesWindowMillis ?? 6 * 60 * 1000
    const seen = new Map<string, Seen>()

    const create = (spec: EventSpec, regarding: ObjectReference, namespace: string, now: number, key: string) =>
      Effect.gen(function* () {
        const name = `${regarding.name}.${(BigInt(now) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6))).toString(16)}`
        const related = spec.related === undefined ? undefined : referenceOf(spec.related)
        yield* kube.create(Event, {
          apiVersion: Event.apiVersion,
          kind: Event.kind,
          metadata: { name, namespace },
          eventTime: MicroTime.format(now),
          reportingController: options.controller,
          reportingInstance: options.instance,
          action: spec.action,
          reason: spec.reason,
          type: spec.type,
          regarding,
          ...(related === undefined ? {} : { related }),
          ...(spec.note === undefined ? {} : { note: truncate(spec.note) })
        })
        seen.set(key, { name, namespace, count: 1, lastObserved: now })
      })

    const record = (spec: EventSpec) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const regarding = referenceOf(spec.regarding)
        const namespace = regarding.namespace ?? "default"
        const key = JSON.stringify([
          regarding.kind,
          regarding.namespace,
          regarding.name,
          regarding.uid,
          spec.type,
          spec.reason,
          spec.action,
          spec.note,
          spec.related === undefined ? undefined : referenceOf(spec.related).name
        ])
        for (const [k, s] of seen) if (now - s.lastObserved > window) seen.delete(k)
        const previous = seen.get(key)
        if (previous === undefined) return yield* create(spec, regarding, namespace, now, key)
        previous.count++
        previous.lastObserved = now
        yield* kube
          .patch(
            Event,
            previous.name,
            { series: { count: previous.count, lastObservedTime: MicroTime.format(now) } },
            { namespace: previous.namespace, type: "merge" }
          )
          .pipe(Effect.catchTag("NotFound", () => create(spec, regarding, namespace, now, key)))
      }).pipe(
        Effect.catchAll((error) =>
          Effect.logWarning(
            `event ${spec.reason} about ${referenceOf(spec.regarding).name} not recorded: ${error.message}`
          )
        )
      )
    return { record }
  })
