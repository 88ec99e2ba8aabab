/**
 * Helpers for integration tests against a local cluster.
 *
 * Effect style (preferred): `layer(LocalCluster.layer({...}), clusterLayerOptions)("suite", (it) => …)`
 * from `@effect/vitest`, then `yield* LocalCluster` in `it.effect`. Promise style: `useLocalCluster`
 * registers beforeAll/afterAll for one test file and gives object helpers that return results
 * instead of throwing, so a test can assert on the apiserver's rejection message and causes.
 */
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll } from "vitest"
import { LocalCluster, type LocalClusterInfo, type LocalClusterOptions } from "../cluster/local-cluster.js"
import { installCrds } from "../cluster/manifests.js"
import type { ApplyOptions, KubeObject, KubeStatusError, ObjectError, ResourceRef } from "../cluster/objects.js"

export { conditionStatus, type KubeObject, KubeStatusError } from "../cluster/objects.js"
export { LocalCluster, type LocalClusterInfo, type LocalClusterOptions }

/** For `@effect/vitest`'s `layer(...)`: live clock (startup polls), and time to start. */
export const clusterLayerOptions = { timeout: "120 seconds", excludeTestServices: true } as const

/** The outcome of a write: the stored object, or the apiserver's Status. */
export type Outcome =
  | { readonly ok: true; readonly object: KubeObject }
  | { readonly ok: false; readonly error: KubeStatusError }

const outcome = (effect: Effect.Effect<KubeObject, ObjectError>): Promise<Outcome> =>
  Effect.runPromise(
    effect.pipe(
      Effect.map((object): Outcome => ({ ok: true, object })),
      Effect.catchTag("KubeStatusError", (error) => Effect.succeed<Outcome>({ ok: false, error }))
    )
  )

export interface ClusterHandle {
  /** The running cluster (throws before beforeAll finished). */
  readonly info: () => LocalClusterInfo
  /** Runs an Effect that needs {@link LocalCluster}. */
  readonly run: <A, E>(effect: Effect.Effect<A, E, LocalCluster>) => Promise<A>
  readonly create: (object: KubeObject, options?: Omit<ApplyOptions, "force">) => Promise<Outcome>
  readonly apply: (object: KubeObject, options?: ApplyOptions) => Promise<Outcome>
  readonly get: (ref: ResourceRef, name: string) => Promise<KubeObject>
  readonly remove: (ref: ResourceRef, name: string) => Promise<void>
  /** Applies the CRDs in these YAML files and waits until they are Established; resolves to their names. */
  readonly installCrds: (files: ReadonlyArray<string>) => Promise<ReadonlyArray<string>>
}

/** One cluster for the current test file: started in beforeAll, stopped in afterAll. */
export const useLocalCluster = (options: LocalClusterOptions = {}, timeoutMillis = 120_000): ClusterHandle => {
  const scope = Effect.runSync(Scope.make())
  let cluster: LocalClusterInfo | undefined
  beforeAll(async () => {
    const exit = await Effect.runPromiseExit(Scope.extend(LocalCluster.start(options), scope))
    if (Exit.isFailure(exit)) {
      await Effect.runPromise(Scope.close(scope, exit))
      throw new Error(`local cluster did not start:\n${exit.cause.toString()}`)
    }
    cluster = exit.value
  }, timeoutMillis)
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)), timeoutMillis)

  const info = () => {
    if (cluster === undefined) throw new Error("the local cluster is not running (beforeAll failed or has not run)")
    return cluster
  }
  return {
    info,
    run: (effect) => Effect.runPromise(Effect.provideService(effect, LocalCluster, info())),
    create: (object, opts) => outcome(info().objects.create(object, opts)),
    apply: (object, opts) => outcome(info().objects.apply(object, opts)),
    get: (ref, name) => Effect.runPromise(info().objects.get(ref, name)),
    remove: (ref, name) => Effect.runPromise(Effect.asVoid(info().objects.remove(ref, name))),
    installCrds: (files) => Effect.runPromise(installCrds(info().objects, files))
  }
}
