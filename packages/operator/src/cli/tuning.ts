/**
 * `convex-operator run`'s throughput settings, each a flag with an environment fallback: reconciles at once,
 * requests one reconcile sends at once, and the client-side rate limit towards the apiserver (off by default, as in
 * controller-runtime: the apiserver's API Priority and Fairness paces clients, and the client waits out its 429s).
 *
 * @module
 */
import type { RateLimit } from "@convex-operator/k8s"
import { Options } from "@effect/cli"
import { Config } from "effect"
import { defaultApplyConcurrency } from "../controllers/instance/act.js"

export const tuningDefaults = {
  maxConcurrentReconciles: 4,
  applyConcurrency: defaultApplyConcurrency,
  kubeApiQps: 0,
  kubeApiBurst: 100
} as const

const integer = (name: string, env: string, fallback: number, description: string) =>
  Options.integer(name).pipe(
    Options.withDescription(`${description} Default: ${fallback} (env ${env}).`),
    Options.withFallbackConfig(Config.integer(env)),
    Options.withDefault(fallback)
  )

export const tuningOptions = {
  /** `--concurrency` is the name it had first (the chart passes it). */
  concurrency: integer(
    "max-concurrent-reconciles",
    "MAX_CONCURRENT_RECONCILES",
    tuningDefaults.maxConcurrentReconciles,
    "Instances reconciled at once."
  ).pipe(Options.withAlias("concurrency")),
  applyConcurrency: integer(
    "apply-concurrency",
    "APPLY_CONCURRENCY",
    tuningDefaults.applyConcurrency,
    "Requests one reconcile sends at once (its children's applies; Secrets, ConfigMaps, claims and RBAC before the workloads that use them)."
  ),
  kubeApiQps: integer(
    "kube-api-qps",
    "KUBE_API_QPS",
    tuningDefaults.kubeApiQps,
    "Requests per second to the apiserver, sustained (a client-side token bucket); 0, the default, sends without a client-side limit: the apiserver's priority and fairness paces the operator, and a request it rejects (429) is retried after its Retry-After."
  ),
  kubeApiBurst: integer(
    "kube-api-burst",
    "KUBE_API_BURST",
    tuningDefaults.kubeApiBurst,
    "Requests to the apiserver allowed in a burst above --kube-api-qps (used only when --kube-api-qps is above 0)."
  )
}

export interface Tuning {
  readonly concurrency: number
  readonly applyConcurrency: number
  readonly kubeApiQps: number
  readonly kubeApiBurst: number
}

/** The client's rate limit: `false` when the QPS is 0 or less; a burst is at least one request. */
export const rateLimitOf = (tuning: Tuning): RateLimit | false =>
  tuning.kubeApiQps <= 0 ? false : { qps: tuning.kubeApiQps, burst: Math.max(1, tuning.kubeApiBurst) }
