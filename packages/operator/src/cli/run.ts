/**
 * `convex-operator run`: the operator process. Configuration comes from flags, each with an environment fallback
 * (for the Deployment): which namespaces to watch, metrics and probe addresses, leader election, logging and
 * throughput (`tuning.ts`). SIGTERM/SIGINT interrupt the main fiber: leadership is released, running reconciles finish within
 * the grace period, watches close.
 */
import * as os from "node:os"
import { SecretGenerator } from "@convex-operator/core"
import { EventRecorder, Health, KubeClient, LeaderElection, Metrics, ProcessMetrics } from "@convex-operator/k8s"
import { Command, Options } from "@effect/cli"
import { Config, Duration, Effect, Layer, Logger, LogLevel, Option } from "effect"
import { limitHeapGrowth } from "../app/heap-growth.js"
import { startOperator } from "../app/operator.js"
import { collectInstanceMetrics } from "../monitoring/collector.js"
import { countingKubeClient } from "../shell/counting.js"
import { described } from "./help.js"
import { kubeConfigSource, kubeconfigOption, userAgent } from "./kube-options.js"
import { rateLimitOf, tuningOptions } from "./tuning.js"
import { UserError } from "./user-error.js"

const namespaces = Options.text("namespaces").pipe(
  Options.withDescription(
    "Comma-separated namespaces to watch; empty (default) watches all namespaces (env WATCH_NAMESPACES)."
  ),
  Options.withFallbackConfig(Config.string("WATCH_NAMESPACES")),
  Options.withDefault("")
)
const metricsAddress = Options.text("metrics-bind-address").pipe(
  Options.withDescription("host:port of /metrics; '0' disables it; default: 0.0.0.0:8080 (env METRICS_BIND_ADDRESS)."),
  Options.withFallbackConfig(Config.string("METRICS_BIND_ADDRESS")),
  Options.withDefault("0.0.0.0:8080")
)
const probeAddress = Options.text("health-probe-bind-address").pipe(
  Options.withDescription(
    "host:port of /healthz and /readyz; '0' disables them; default: 0.0.0.0:8081 (env HEALTH_PROBE_BIND_ADDRESS)."
  ),
  Options.withFallbackConfig(Config.string("HEALTH_PROBE_BIND_ADDRESS")),
  Options.withDefault("0.0.0.0:8081")
)
const leaderElect = Options.boolean("leader-elect").pipe(
  Options.withDescription(
    "Run only while holding the Lease convex-operator-leader, for more than one replica (env LEADER_ELECT)."
  ),
  Options.withFallbackConfig(Config.boolean("LEADER_ELECT"))
)
const leaseNamespace = Options.text("leader-election-namespace").pipe(
  Options.withDescription("Namespace of the leader-election Lease; default: POD_NAMESPACE, else 'default'."),
  Options.withFallbackConfig(Config.string("POD_NAMESPACE")),
  Options.withDefault("default")
)
const logLevel = Options.choice("log-level", ["debug", "info", "warning", "error"]).pipe(
  Options.withDescription("Least severe log level written; default: info (env LOG_LEVEL)."),
  Options.withFallbackConfig(Config.literal("debug", "info", "warning", "error")("LOG_LEVEL")),
  Options.withDefault("info" as const)
)
const logFormat = Options.choice("log-format", ["auto", "json", "text"]).pipe(
  Options.withDescription(
    "auto (default): readable text in a terminal, JSON otherwise, as in a cluster (env LOG_FORMAT)."
  ),
  Options.withFallbackConfig(Config.literal("auto", "json", "text")("LOG_FORMAT")),
  Options.withDefault("auto" as const)
)
const operatorImage = Options.text("operator-image").pipe(
  Options.withDescription(
    "The operator's own image, which snapshot, backup and restore Jobs run (env OPERATOR_IMAGE)."
  ),
  Options.withFallbackConfig(Config.string("OPERATOR_IMAGE")),
  Options.withDefault("ghcr.io/icod-de/convex-operator:latest")
)

const watchIdleTimeout = Options.integer("watch-idle-timeout").pipe(
  Options.withDescription(
    "Seconds a watch may stay silent (no event, no bookmark) before it is dropped and resumed; the apiserver sends a bookmark about every minute. Default: 300 (env WATCH_IDLE_TIMEOUT)."
  ),
  Options.withFallbackConfig(Config.integer("WATCH_IDLE_TIMEOUT")),
  Options.withDefault(300)
)

/** `host:port` → parts; `:8080` means all interfaces; `0` disables. */
export const parseAddress = (address: string): Option.Option<{ host: string; port: number }> | UserError => {
  if (address === "0" || address === "") return Option.none()
  const colon = address.lastIndexOf(":")
  const host = colon <= 0 ? "0.0.0.0" : address.slice(0, colon)
  const port = Number(address.slice(colon + 1))
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return new UserError({ message: `invalid address ${JSON.stringify(address)}: expected host:port` })
  }
  return Option.some({ host, port })
}

const address = (flag: string, value: string) => {
  const parsed = parseAddress(value)
  return parsed instanceof UserError
    ? Effect.fail(new UserError({ message: `--${flag}: ${parsed.message}` }))
    : Effect.succeed(parsed)
}

const levels = { debug: LogLevel.Debug, info: LogLevel.Info, warning: LogLevel.Warning, error: LogLevel.Error }

export const runCommand = Command.make(
  "run",
  {
    kubeconfig: kubeconfigOption,
    namespaces,
    metricsAddress,
    probeAddress,
    leaderElect,
    leaseNamespace,
    logLevel,
    logFormat,
    ...tuningOptions,
    operatorImage,
    watchIdleTimeout
  },
  (flags) => {
    const source = kubeConfigSource(flags.kubeconfig)
    const watched = flags.namespaces
      .split(",")
      .map((namespace) => namespace.trim())
      .filter((namespace) => namespace !== "")
    const identity = `${process.env.POD_NAME ?? os.hostname()}_${Math.random().toString(36).slice(2, 10)}`
    const json = flags.logFormat === "json" || (flags.logFormat === "auto" && process.stderr.isTTY !== true)
    const recorder = EventRecorder.layer({ controller: "convex.icod.de/convex-operator", instance: identity })

    const program = Effect.gen(function* () {
      yield* Effect.sync(() => limitHeapGrowth())
      const metrics = yield* address("metrics-bind-address", flags.metricsAddress)
      const probes = yield* address("health-probe-bind-address", flags.probeAddress)
      let leading: Effect.Effect<boolean> = Effect.succeed(true)
      let isReady: Effect.Effect<boolean> = Effect.succeed(false)
      if (Option.isSome(metrics)) {
        // The process's CPU, memory and heap (process_*, nodejs_heap_*), on every replica.
        yield* ProcessMetrics.register
        const server = yield* Health.serve({ port: metrics.value.port, host: metrics.value.host })
        yield* Effect.logInfo(`metrics on ${server.url}/metrics`)
      }
      if (Option.isSome(probes)) {
        const server = yield* Health.serve({
          port: probes.value.port,
          host: probes.value.host,
          ready: { caches: Effect.suspend(() => isReady) }
        })
        yield* Effect.logInfo(`probes on ${server.url}/healthz and /readyz`)
      }
      yield* Effect.logInfo(
        `convex-operator starting: watching ${watched.length === 0 ? "all namespaces" : watched.join(", ")}`
      )
      const operate = Effect.scoped(
        Effect.gen(function* () {
          const operator = yield* startOperator({
            namespaces: watched,
            concurrency: Math.max(1, flags.concurrency),
            settings: { operatorImage: flags.operatorImage, applyConcurrency: Math.max(1, flags.applyConcurrency) },
            watchIdleTimeout: Duration.seconds(Math.max(1, flags.watchIdleTimeout))
          })
          isReady = Effect.zipWith(operator.isReady, leading, (a, b) => a && b)
          // Per-instance metrics on /metrics, read from the caches at each scrape (monitoring/collector.ts).
          yield* collectInstanceMetrics(operator)
          yield* operator.ready
          yield* Effect.logInfo("caches synced: reconciling")
          return yield* Effect.never
        })
      )
      if (flags.leaderElect) {
        // The Lease has a client of its own, without the work's rate limit: a renewal never waits behind writes
        // queued in the limiter (client-go's leader election has its own client too).
        const leaseClient = yield* Layer.build(
          countingKubeClient.pipe(
            Layer.provide(KubeClient.layerLive({ source, userAgent: userAgent("convex-operator"), rateLimit: false }))
          )
        )
        const leadership = yield* LeaderElection.make({
          namespace: flags.leaseNamespace,
          name: "convex-operator-leader",
          identity
        }).pipe(Effect.provide(leaseClient))
        leading = leadership.isLeader
        yield* Effect.logInfo(`leader election: waiting for Lease ${flags.leaseNamespace}/convex-operator-leader`)
        // Every write of a term, Events included, passes the fence: once the term has ended by this process's
        // clock (a freeze, an apiserver out of reach), a reconcile still running or a timer firing late writes
        // nothing; it is interrupted and the process waits as a standby.
        const fenced = recorder.pipe(Layer.provideMerge(LeaderElection.fenceWrites(leadership)))
        yield* LeaderElection.whileLeader(leadership, Effect.provide(operate, fenced))
      } else {
        yield* operate
      }
    })

    const kube = countingKubeClient.pipe(
      Layer.provide(
        KubeClient.layerLive({ source, userAgent: userAgent("convex-operator"), rateLimit: rateLimitOf(flags) })
      )
    )
    const layers = Layer.mergeAll(recorder.pipe(Layer.provideMerge(kube)), SecretGenerator.layerLive).pipe(
      Layer.provideMerge(Metrics.Metrics.layer)
    )
    return program.pipe(
      Effect.scoped,
      Effect.provide(layers),
      Effect.catchTag("KubeConfigError", (error) => Effect.fail(new UserError({ message: error.message }))),
      Effect.catchIf(
        (error): error is Error => error instanceof Error,
        (error) => Effect.fail(new UserError({ message: `cannot serve: ${error.message}` }))
      ),
      Logger.withMinimumLogLevel(levels[flags.logLevel]),
      Effect.provide(json ? Logger.json : Logger.pretty)
    )
  }
).pipe(
  Command.withDescription(
    described(
      "Run the operator: reconcile ConvexInstances until SIGTERM/SIGINT.",
      "convex-operator run --namespaces apps,staging --log-format text"
    )
  )
)
