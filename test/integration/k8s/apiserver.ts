/**
 * A second kube-apiserver on the LocalCluster's etcd, owned by one test file, so the test can stop
 * and restart it (an apiserver restart mid-watch) or run it without its watch cache (every read and
 * watch goes to etcd, so an etcd compaction shows as a real 410). It reuses the cluster's PKI files
 * in `<cluster.dir>/pki` and listens on its own loopback port.
 */
import * as path from "node:path"
import { Effect, Exit, Option, Scope } from "effect"
import { makeKubeHttp } from "../../cluster/kube-http.js"
import type { LocalClusterInfo } from "../../cluster/local-cluster.js"
import { freePorts } from "../../cluster/ports.js"
import { startComponent } from "../../cluster/process.js"
import { makeReaper } from "../../cluster/reaper.js"
import { waitUntil } from "../../cluster/wait.js"

export interface ExtraApiserver {
  readonly server: string
  /** Stops the process (SIGTERM). */
  readonly stop: Effect.Effect<void>
  /** Starts it again on the same port and waits for /readyz. */
  readonly start: Effect.Effect<void, unknown>
}

export const extraApiserver = (cluster: LocalClusterInfo, options: { readonly watchCache: boolean }) =>
  Effect.gen(function* () {
    const [port] = (yield* freePorts(1)) as [number]
    const server = `https://127.0.0.1:${port}`
    const pki = (file: string) => path.join(cluster.dir, "pki", file)
    const reaper = yield* makeReaper
    const name = `kube-apiserver-extra-${port}`
    const args = [
      `--etcd-servers=${cluster.etcdUrl}`,
      `--tls-cert-file=${pki("serving.crt")}`,
      `--tls-private-key-file=${pki("serving.key")}`,
      `--client-ca-file=${pki("ca.crt")}`,
      `--secure-port=${port}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      "--authorization-mode=RBAC",
      `--service-account-issuer=${cluster.server}/`,
      `--service-account-key-file=${pki("sa.pub")}`,
      `--service-account-signing-key-file=${pki("sa.key")}`,
      "--disable-admission-plugins=ServiceAccount",
      // Not a second endpoint reconciler for the `kubernetes` Service.
      "--endpoint-reconciler-type=none",
      `--watch-cache=${options.watchCache}`
    ]
    const http = makeKubeHttp({ server, ca: cluster.ca, cert: cluster.cert, key: cluster.key })
    yield* Effect.addFinalizer(() => Effect.sync(() => http.close()))
    let running: Scope.CloseableScope | undefined
    const stop = Effect.suspend(() => {
      const scope = running
      running = undefined
      return scope === undefined ? Effect.void : Scope.close(scope, Exit.void)
    })
    const start = Effect.gen(function* () {
      const scope = yield* Scope.make()
      running = scope
      yield* Scope.extend(
        startComponent(
          {
            name,
            command: path.join(cluster.binDir, "kube-apiserver"),
            args,
            logsDir: cluster.logsDir,
            stopTimeoutMillis: 5_000
          },
          reaper
        ),
        scope
      )
      yield* waitUntil(
        http
          .request({ method: "GET", path: "/readyz", timeoutMillis: 2_000 })
          .pipe(Effect.map((r) => (r.status === 200 ? Option.some(true) : Option.none()))),
        { component: name, description: "/readyz", timeout: "60 seconds", interval: "100 millis" }
      )
    })
    yield* Effect.addFinalizer(() => stop)
    yield* start
    return { server, stop, start } satisfies ExtraApiserver
  })
