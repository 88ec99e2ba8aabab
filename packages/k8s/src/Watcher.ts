/**
 * `Watcher.watch`: list-then-watch as an endless `Stream` of {@link WatcherEvent}s, like kube-rs'
 * `watcher`. It lists (paginated), marks the initial list with InitStart/InitDone so a Store can swap
 * in the fresh snapshot atomically, then watches from the list's resourceVersion with bookmarks and
 * a server timeout (290 s), re-watching from the newest version seen when the server ends the watch.
 *
 * - 410 Gone (compacted history, expired continue token): list again at once.
 * - Any other failure, and a watch silent for longer than `idleTimeout` (a stalled connection):
 *   jittered exponential backoff 0.8 s → 30 s, reset after 120 s without failures, then resume; no sooner than
 *   a 429's `Retry-After` asks.
 *
 * The stream never fails; failures are logged (and counted by the optional `onError`). A `transform` (e.g.
 * `Store.trim`) is applied to every object as it arrives, so what it drops is never held beyond one event.
 */
import { Clock, Duration, Effect, Queue, Stream } from "effect"
import * as Backoff from "./Backoff.js"
import { type KubeError, retryAfterOf, Timeout } from "./errors.js"
import { KubeClient } from "./KubeClient.js"
import type { KubeObject, Resource } from "./Resource.js"

export type WatcherEvent<A> =
  /** A (re)list begins: buffer InitApply objects until InitDone. */
  | { readonly _tag: "InitStart" }
  | { readonly _tag: "InitApply"; readonly object: A }
  /** The list is complete: replace the whole state with what was buffered. */
  | { readonly _tag: "InitDone"; readonly resourceVersion: string }
  | { readonly _tag: "Apply"; readonly object: A }
  | { readonly _tag: "Delete"; readonly object: A }

export interface WatcherOptions {
  readonly namespace?: string
  readonly labelSelector?: string
  readonly fieldSelector?: string
  /** List page size (default 500). */
  readonly pageSize?: number
  /** Server-side watch timeout (default 290 s, as kube-rs). */
  readonly timeoutSeconds?: number
  /** A watch that delivers nothing (not even a bookmark) for this long is dropped (default 300 s). */
  readonly idleTimeout?: Duration.DurationInput
  readonly backoff?: Backoff.BackoffOptions
  /** Called with each failure before backing off (metrics, tests). */
  readonly onError?: (error: KubeError) => Effect.Effect<void>
  /** Capacity of the buffer between the watch and the consumer (default 1024). */
  readonly bufferSize?: number
  /**
   * Applied to every listed and watched object before it is emitted (controller-runtime's cache transform). It must
   * keep the object of its kind: drop or shorten fields, never change apiVersion, kind, name or namespace.
   */
  readonly transform?: <B extends KubeObject>(object: B) => B
}

type Outcome = { readonly _tag: "Ended" } | { readonly _tag: "Failed"; readonly error: KubeError }

export const watch = <A extends KubeObject>(
  resource: Resource<A>,
  options: WatcherOptions = {}
): Stream.Stream<WatcherEvent<A>, never, KubeClient> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const queue = yield* Effect.acquireRelease(
        Queue.bounded<WatcherEvent<A>>(options.bufferSize ?? 1024),
        Queue.shutdown
      )
      const backoff = yield* Backoff.make(options.backoff)
      const idleTimeout = Duration.decode(options.idleTimeout ?? "300 seconds")
      const selectors = {
        ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
        ...(options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector }),
        ...(options.fieldSelector === undefined ? {} : { fieldSelector: options.fieldSelector })
      }
      const offer = (event: WatcherEvent<A>) => Queue.offer(queue, event)
      const transform = (object: A): A => (options.transform === undefined ? object : options.transform(object))

      const list = Effect.gen(function* () {
        let page = yield* kube.list(resource, { ...selectors, limit: options.pageSize ?? 500 })
        yield* offer({ _tag: "InitStart" })
        const resourceVersion = page.resourceVersion
        for (;;) {
          for (const object of page.items) yield* offer({ _tag: "InitApply", object: transform(object) })
          if (page.continue === undefined) break
          page = yield* kube.list(resource, { ...selectors, limit: options.pageSize ?? 500, continue: page.continue })
        }
        yield* offer({ _tag: "InitDone", resourceVersion })
        return resourceVersion
      })

      const watchFrom = (from: string, seen: { resourceVersion: string }) =>
        kube
          .watch(resource, {
            ...selectors,
            resourceVersion: from,
            allowWatchBookmarks: true,
            timeoutSeconds: options.timeoutSeconds ?? 290
          })
          .pipe(
            Stream.timeoutFail(
              () =>
                new Timeout({
                  request: `WATCH ${resource.plural}`,
                  message: `no event or bookmark for ${Duration.format(idleTimeout)}`
                }),
              idleTimeout
            ),
            Stream.runForEach((event) => {
              if (event.type === "BOOKMARK") {
                seen.resourceVersion = event.resourceVersion
                return Effect.void
              }
              seen.resourceVersion = event.object.metadata.resourceVersion ?? seen.resourceVersion
              return offer(
                event.type === "DELETED"
                  ? { _tag: "Delete", object: transform(event.object) }
                  : { _tag: "Apply", object: transform(event.object) }
              )
            }),
            Effect.as<Outcome>({ _tag: "Ended" }),
            Effect.catchAll((error) => Effect.succeed<Outcome>({ _tag: "Failed", error }))
          )

      const failed = (error: KubeError) =>
        Effect.gen(function* () {
          if (options.onError !== undefined) yield* options.onError(error)
          const delay = Duration.max(yield* backoff.next, Duration.millis(retryAfterOf(error) ?? 0))
          yield* Effect.logWarning(
            `watch ${resource.plural}: ${error._tag}: ${error.message}; retrying in ${Duration.format(delay)}`
          )
          yield* Effect.sleep(delay)
        })

      const loop = Effect.gen(function* () {
        let resourceVersion: string | undefined
        let relistAtOnce = false
        for (;;) {
          if (resourceVersion === undefined) {
            const listed = yield* Effect.either(list)
            if (listed._tag === "Right") {
              resourceVersion = listed.right
              relistAtOnce = false
            } else if (listed.left._tag === "Gone" && !relistAtOnce) {
              // An expired continue token: start over once without waiting.
              relistAtOnce = true
            } else {
              yield* failed(listed.left)
            }
            continue
          }
          const seen = { resourceVersion }
          const started = yield* Clock.currentTimeMillis
          const outcome = yield* watchFrom(resourceVersion, seen)
          const lasted = (yield* Clock.currentTimeMillis) - started
          const progressed = seen.resourceVersion !== resourceVersion
          resourceVersion = seen.resourceVersion
          if (outcome._tag === "Ended") {
            // A server that ends watches at once, again and again, must not make us spin.
            if (lasted < 1000 && !progressed) {
              yield* failed(new Timeout({ request: `WATCH ${resource.plural}`, message: "the watch ended at once" }))
            }
            continue
          }
          if (outcome.error._tag === "Gone") {
            if (options.onError !== undefined) yield* options.onError(outcome.error)
            yield* Effect.logInfo(`watch ${resource.plural}: ${outcome.error.message}; listing again`)
            resourceVersion = undefined
            continue
          }
          yield* failed(outcome.error)
        }
      })
      yield* Effect.forkScoped(loop)
      return Stream.fromQueue(queue)
    })
  )
