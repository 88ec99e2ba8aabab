/**
 * Leader election on a `coordination.k8s.io/v1` Lease, as client-go does it: a candidate takes the
 * Lease when it is free or its holder has not renewed it for `leaseDuration` (as observed locally),
 * renews it every `retryPeriod`, and steps down once `renewDeadline` has passed since its last
 * successful renewal began, by its own clock. Defaults 15 s / 10 s / 2 s. `leaseTransitions` counts
 * takeovers, not renewals.
 *
 * The clock decides, not a timer: a process that was frozen (SIGSTOP, a long pause) and resumes
 * past its deadline is no longer the leader, whichever of its timers fires first. `fence` and
 * `fenceWrites` refuse writes from such a leader before they are sent, so the gap between the
 * deadline and the step-down cannot be used to write; the Lease duration exceeds the renew
 * deadline so that a successor, which waits the Lease duration, never overlaps with it.
 *
 * `make` is a scoped resource: the candidate campaigns for the life of the scope and releases the
 * Lease on close (so a successor takes over at once). `whileLeader` runs work only while leading.
 */
import { Duration, Effect, Fiber, Layer, Option, Random, type Scope, Stream, SubscriptionRef } from "effect"
import { writeGuard } from "./internal/write-guard.js"
import { KubeClient, type KubeClientService } from "./KubeClient.js"
import * as MicroTime from "./MicroTime.js"
import { type KubeObject, Lease } from "./Resource.js"

export interface LeaderElectionOptions {
  /** The Lease: `namespace/name`. */
  readonly namespace: string
  readonly name: string
  /** This candidate, unique (e.g. the Pod name + a random suffix). */
  readonly identity: string
  readonly leaseDuration?: Duration.DurationInput
  readonly renewDeadline?: Duration.DurationInput
  readonly retryPeriod?: Duration.DurationInput
  /** Give the Lease up when the scope closes (default true). */
  readonly releaseOnCancel?: boolean
}

export interface Leadership {
  readonly identity: string
  /** Leading, and the last successful renewal began less than `renewDeadline` ago (by this candidate's clock). */
  readonly isLeader: Effect.Effect<boolean>
  /**
   * Succeeds while `isLeader` holds; otherwise it interrupts the calling fiber, whose work belongs to a term of
   * leadership that has ended. Put it right before every write that only the leader may make.
   */
  readonly fence: Effect.Effect<void>
  /** The current state, then every change. */
  readonly changes: Stream.Stream<boolean>
  /** Completes when this candidate leads. */
  readonly awaitLeadership: Effect.Effect<void>
}

interface LeaseSpec {
  readonly holderIdentity?: string
  readonly leaseDurationSeconds?: number
  readonly acquireTime?: string
  readonly renewTime?: string
  readonly leaseTransitions?: number
}

const specOf = (lease: KubeObject): LeaseSpec => (lease.spec ?? {}) as LeaseSpec

/** The outcome of one attempt to take or renew the Lease. */
type Attempt =
  /** This candidate holds the Lease; the attempt began at `at` (the renewTime it wrote). */
  | { readonly _tag: "Held"; readonly at: number }
  /** Another candidate holds an unexpired Lease. */
  | { readonly _tag: "Taken" }
  /** The request failed; the outcome is unknown. */
  | { readonly _tag: "Failed" }

export const make = (options: LeaderElectionOptions): Effect.Effect<Leadership, never, KubeClient | Scope.Scope> =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    // Every decision reads this clock, also when `isLeader` or `fence` run in another fiber.
    const clock = yield* Effect.clock
    const leaseDuration = Duration.toMillis(options.leaseDuration ?? "15 seconds")
    const renewDeadline = Duration.toMillis(options.renewDeadline ?? "10 seconds")
    const retryPeriod = Duration.toMillis(options.retryPeriod ?? "2 seconds")
    const leading = yield* SubscriptionRef.make(false)
    const id = options.identity
    let observed: { spec: LeaseSpec; at: number } | undefined
    /** The current term of leadership: when it ends unless renewed, and whether it has ended for good. */
    let term: { validUntil: number; ended: boolean } | undefined
    const ref = { namespace: options.namespace }

    /** Whether the term has ended at `now`; once seen ended it stays ended (a late renewal does not revive it). */
    const ended = (now: number): boolean => {
      if (term === undefined || term.ended) return true
      if (now >= term.validUntil) term.ended = true
      return term.ended
    }

    const leaseObject = (spec: LeaseSpec, base?: KubeObject): KubeObject => ({
      apiVersion: Lease.apiVersion,
      kind: Lease.kind,
      metadata: {
        ...(base?.metadata ?? {}),
        name: options.name,
        namespace: options.namespace
      },
      spec
    })

    const held = (at: number): Attempt => ({ _tag: "Held", at })
    const taken: Attempt = { _tag: "Taken" }
    const failed: Attempt = { _tag: "Failed" }

    /** One attempt. A replace carries the resourceVersion read, so it cannot overwrite a takeover in between. */
    const tryAcquireOrRenew: Effect.Effect<Attempt> = Effect.gen(function* () {
      const now = yield* clock.currentTimeMillis
      const time = MicroTime.format(now)
      const current = yield* kube.get(Lease, options.name, ref).pipe(
        Effect.map(Option.some),
        Effect.catchTag("NotFound", () => Effect.succeed(Option.none<KubeObject>()))
      )
      if (Option.isNone(current)) {
        const spec: LeaseSpec = {
          holderIdentity: id,
          leaseDurationSeconds: Math.ceil(leaseDuration / 1000),
          acquireTime: time,
          renewTime: time,
          leaseTransitions: 0
        }
        yield* kube.create(Lease, leaseObject(spec))
        observed = { spec, at: now }
        return held(now)
      }
      const lease = current.value
      const spec = specOf(lease)
      if (observed === undefined || JSON.stringify(observed.spec) !== JSON.stringify(spec)) observed = { spec, at: now }
      const holder = spec.holderIdentity ?? ""
      const duration = (spec.leaseDurationSeconds ?? Math.ceil(leaseDuration / 1000)) * 1000
      if (holder !== "" && holder !== id && observed.at + duration > now) return taken
      const mine = holder === id
      const next: LeaseSpec = {
        holderIdentity: id,
        leaseDurationSeconds: Math.ceil(leaseDuration / 1000),
        acquireTime: mine ? (spec.acquireTime ?? time) : time,
        renewTime: time,
        leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1
      }
      yield* kube.replace(Lease, leaseObject(next, lease))
      observed = { spec: next, at: now }
      return held(now)
    }).pipe(
      Effect.catchAll((error) =>
        Effect.as(Effect.logDebug(`leader election ${options.name}: ${error._tag}: ${error.message}`), failed)
      )
    )

    const jittered = Effect.map(Random.next, (r) => Duration.millis(retryPeriod * (1 + 1.2 * r)))

    /** Tries until this candidate holds the Lease, then starts a term. */
    const acquire = Effect.gen(function* () {
      for (;;) {
        const attempt = yield* tryAcquireOrRenew
        if (attempt._tag === "Held") {
          term = { validUntil: attempt.at + renewDeadline, ended: false }
          return
        }
        yield* Effect.sleep(yield* jittered)
      }
    })

    /**
     * Renews every retry period until the term ends: its deadline passes by the clock (also when the process wakes
     * up late), another holder is seen, or an attempt does not answer before the deadline.
     */
    const renew = Effect.gen(function* () {
      for (;;) {
        const wait = Math.min(retryPeriod, (term?.validUntil ?? 0) - (yield* clock.currentTimeMillis))
        if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
        const now = yield* clock.currentTimeMillis
        if (ended(now) || term === undefined) return
        const attempt = yield* tryAcquireOrRenew.pipe(
          Effect.timeoutTo({
            duration: Duration.millis(term.validUntil - now),
            onTimeout: () => failed,
            onSuccess: (x) => x
          })
        )
        // Another holder: the term is over now (not after one more retry period).
        if (attempt._tag === "Taken") {
          term.ended = true
          return
        }
        if (attempt._tag === "Held" && !term.ended) term.validUntil = attempt.at + renewDeadline
      }
    })

    const campaign = Effect.gen(function* () {
      for (;;) {
        yield* acquire
        yield* Effect.logInfo(`leader election ${options.namespace}/${options.name}: ${id} leads`)
        yield* SubscriptionRef.set(leading, true)
        yield* renew
        if (term !== undefined) term.ended = true
        yield* SubscriptionRef.set(leading, false)
        yield* Effect.logWarning(`leader election ${options.namespace}/${options.name}: ${id} lost the lease`)
      }
    })

    const fiber = yield* Effect.forkScoped(campaign)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* Fiber.interrupt(fiber)
        const wasLeader = yield* SubscriptionRef.get(leading)
        yield* SubscriptionRef.set(leading, false)
        if (term !== undefined) term.ended = true
        if (!wasLeader || options.releaseOnCancel === false) return
        // Release: an empty holder and a 1 s lease let a successor take over at once.
        const now = MicroTime.format(yield* clock.currentTimeMillis)
        yield* kube.get(Lease, options.name, ref).pipe(
          Effect.flatMap((lease) =>
            specOf(lease).holderIdentity !== id
              ? Effect.void
              : kube.replace(
                  Lease,
                  leaseObject(
                    {
                      holderIdentity: "",
                      leaseDurationSeconds: 1,
                      acquireTime: now,
                      renewTime: now,
                      leaseTransitions: specOf(lease).leaseTransitions ?? 0
                    },
                    lease
                  )
                )
          ),
          Effect.catchAll((error) => Effect.logWarning(`leader election: releasing the lease failed: ${error.message}`))
        )
      })
    )

    const isLeader = Effect.flatMap(SubscriptionRef.get(leading), (leads) =>
      leads ? Effect.map(clock.currentTimeMillis, (now) => !ended(now)) : Effect.succeed(false)
    )
    return {
      identity: id,
      isLeader,
      fence: Effect.flatMap(isLeader, (leads) => (leads ? Effect.void : Effect.interrupt)),
      changes: leading.changes,
      awaitLeadership: leading.changes.pipe(
        Stream.filter((x) => x),
        Stream.runHead,
        Effect.asVoid
      )
    }
  })

/**
 * The KubeClient in context with `leadership.fence` before every write (create, replace, apply, patch, patchStatus,
 * delete); reads and watches pass. The fence is checked when the write is asked for and again by the live client
 * right before the request is sent (after any wait for its rate limiter), so a write queued before a freeze does not
 * leave after it. Provide it to the work that `whileLeader` runs, so that nothing it writes leaves once the term has
 * ended, including from a reconcile still running or a timer that fired late.
 */
export const fenceWrites = (leadership: Leadership): Layer.Layer<KubeClient, never, KubeClient> =>
  Layer.effect(
    KubeClient,
    Effect.map(KubeClient, (kube): KubeClientService => {
      const fenced = <A, E>(write: Effect.Effect<A, E>) =>
        Effect.zipRight(leadership.fence, Effect.locally(write, writeGuard, leadership.fence))
      return {
        ...kube,
        create: (resource, object, options) => fenced(kube.create(resource, object, options)),
        replace: (resource, object, options) => fenced(kube.replace(resource, object, options)),
        apply: (resource, object, options) => fenced(kube.apply(resource, object, options)),
        patch: (resource, name, patch, options) => fenced(kube.patch(resource, name, patch, options)),
        patchStatus: (resource, name, status, options) => fenced(kube.patchStatus(resource, name, status, options)),
        delete: (resource, name, options) => fenced(kube.delete(resource, name, options))
      }
    })
  )

/** Runs `effect` each time `leadership` is gained; interrupts it when leadership is lost. */
export const whileLeader = <A, E, R>(
  leadership: Leadership,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<void, E, R> =>
  leadership.changes.pipe(
    Stream.changes,
    Stream.flatMap((leads) => (leads ? Stream.fromEffect(effect).pipe(Stream.drain) : Stream.empty), { switch: true }),
    Stream.runDrain
  )
