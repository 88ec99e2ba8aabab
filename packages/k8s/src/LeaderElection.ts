/**
 * Leader election on a `coordination.k8s.io/v1` Lease, as client-go does it: a candidate takes the
 * Lease when it is free or its holder has not renewed it for `leaseDuration` (as observed locally),
 * renews it every `retryPeriod`, and steps down when it cannot renew within `renewDeadline`.
 * Defaults 15 s / 10 s / 2 s. `leaseTransitions` counts takeovers, not renewals.
 *
 * `make` is a scoped resource: the candidate campaigns for the life of the scope and releases the
 * Lease on close (so a successor takes over at once). `whileLeader` runs work only while leading.
 */
import { Clock, Duration, Effect, Fiber, Option, Random, type Scope, Stream, SubscriptionRef } from "effect"
import { KubeClient } from "./KubeClient.js"
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
  readonly isLeader: Effect.Effect<boolean>
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

export const make = (options: LeaderElectionOptions): Effect.Effect<Leadership, never, KubeClient | Scope.Scope> =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const leaseDuration = Duration.toMillis(options.leaseDuration ?? "15 seconds")
    const renewDeadline = Duration.toMillis(options.renewDeadline ?? "10 seconds")
    const retryPeriod = Duration.toMillis(options.retryPeriod ?? "2 seconds")
    const leading = yield* SubscriptionRef.make(false)
    const id = options.identity
    let observed: { spec: LeaseSpec; at: number } | undefined
    const ref = { namespace: options.namespace }

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

    /** One attempt; true when we hold the Lease afterwards. */
    const tryAcquireOrRenew = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
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
        return true
      }
      const lease = current.value
      const spec = specOf(lease)
      if (observed === undefined || JSON.stringify(observed.spec) !== JSON.stringify(spec)) observed = { spec, at: now }
      const holder = spec.holderIdentity ?? ""
      const duration = (spec.leaseDurationSeconds ?? Math.ceil(leaseDuration / 1000)) * 1000
      if (holder !== "" && holder !== id && observed.at + duration > now) return false
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
      return true
    }).pipe(
      Effect.catchAll((error) =>
        Effect.as(Effect.logDebug(`leader election ${options.name}: ${error._tag}: ${error.message}`), false)
      )
    )

    const jittered = Effect.map(Random.next, (r) => Duration.millis(retryPeriod * (1 + 1.2 * r)))

    const acquire = Effect.gen(function* () {
      for (;;) {
        if (yield* tryAcquireOrRenew) return
        yield* Effect.sleep(yield* jittered)
      }
    })

    /** Renews until a renewal does not succeed within the renew deadline. */
    const renew = Effect.gen(function* () {
      for (;;) {
        yield* Effect.sleep(Duration.millis(retryPeriod))
        const renewed = yield* Effect.gen(function* () {
          for (;;) {
            if (yield* tryAcquireOrRenew) return true
            yield* Effect.sleep(Duration.millis(retryPeriod))
          }
        }).pipe(
          Effect.timeoutTo({ duration: Duration.millis(renewDeadline), onTimeout: () => false, onSuccess: (x) => x })
        )
        if (!renewed) return
      }
    })

    const campaign = Effect.gen(function* () {
      for (;;) {
        yield* acquire
        yield* Effect.logInfo(`leader election ${options.namespace}/${options.name}: ${id} leads`)
        yield* SubscriptionRef.set(leading, true)
        yield* renew
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
        if (!wasLeader || options.releaseOnCancel === false) return
        // Release: an empty holder and a 1 s lease let a successor take over at once.
        const now = MicroTime.format(yield* Clock.currentTimeMillis)
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

    return {
      identity: id,
      isLeader: SubscriptionRef.get(leading),
      changes: leading.changes,
      awaitLeadership: leading.changes.pipe(
        Stream.filter((x) => x),
        Stream.runHead,
        Effect.asVoid
      )
    }
  })

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
