/**
 * A real Kubernetes control plane on 127.0.0.1 as an Effect scoped resource.
 *
 *   components "apiserver": etcd + kube-apiserver (CRD admission, SSA, watches, status)
 *   components "full":      + kube-controller-manager, kube-scheduler, kwok and one fake Node
 *                            (StatefulSet/Job pods get scheduled, become Ready, Jobs complete), and a
 *                            default StorageClass whose claims bind at once (host-path provisioner)
 *
 * Everything listens on free loopback ports; the admin identity is a client cert with
 * O=system:masters; the kubeconfig is written to a temp folder. Closing the scope stops every
 * process (SIGTERM, then SIGKILL) and removes the folder, unless the scope failed: then the
 * folder is kept for its logs.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Cause, Context, Effect, Exit, Layer, Option, type Scope } from "effect"
import { type Assets, type BuildError, ensureAssets, missingBinaries } from "./build.js"
import { ClusterError } from "./errors.js"
import { defaultLog, type Log } from "./exec.js"
import { type KubeHttp, makeKubeHttp } from "./kube-http.js"
import { writeKubeconfig } from "./kubeconfig.js"
import { installCrds } from "./manifests.js"
import { conditionStatus, makeObjects, type Objects } from "./objects.js"
import { generatePki } from "./pki.js"
import { freePorts } from "./ports.js"
import { type Component, logTail, startComponent } from "./process.js"
import { makeReaper } from "./reaper.js"
import { type BinaryName, binaries, localKwokStageFiles } from "./versions.js"
import { waitUntil } from "./wait.js"

export interface LocalClusterOptions {
  /** Default "apiserver". */
  readonly components?: "apiserver" | "full"
  /** CRD files (YAML, multi-document allowed), installed and Established before `start` returns. */
  readonly crds?: ReadonlyArray<string>
  /** Also install the Gateway API standard CRDs. */
  readonly gatewayApi?: boolean
  /** Extra kube-apiserver flags (`--feature-gates=…`, `--watch-cache=false`, …), after ours. */
  readonly apiserverArgs?: ReadonlyArray<string>
  readonly log?: Log
}

export interface LocalClusterInfo {
  readonly components: "apiserver" | "full"
  /** `https://127.0.0.1:<port>` */
  readonly server: string
  readonly kubeconfigPath: string
  /** PEM: cluster CA, admin client certificate and key. */
  readonly ca: string
  readonly cert: string
  readonly key: string
  readonly dir: string
  readonly logsDir: string
  readonly binDir: string
  readonly kubectl: string
  readonly etcdUrl: string
  /** The fake kwok Node, for "full". */
  readonly nodeName: string | undefined
  readonly installedCrds: ReadonlyArray<string>
  readonly http: KubeHttp
  readonly objects: Objects
  readonly assets: Assets
  /** Fault injection: signal or restart a component, compact etcd. */
  readonly faults: Faults
}

export type ComponentName = "etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler" | "kwok"

export interface Faults {
  /** Sends `signal` to the component's process group (SIGSTOP freezes it, SIGCONT resumes it). */
  readonly signal: (component: ComponentName, signal: NodeJS.Signals) => void
  /**
   * Stops the component (`signal`, default SIGTERM) and starts it again with the same flags and port; for the
   * apiserver, completes once `/readyz` answers 200 again.
   */
  readonly restart: (component: ComponentName, signal?: NodeJS.Signals) => Effect.Effect<void, ClusterError>
  /** Compacts etcd's history up to its current revision (older resourceVersions answer 410); returns it. */
  readonly compactEtcd: Effect.Effect<number, ClusterError>
}

const nodeName = "kwok-node-0"

/**
 * MutatingAdmissionPolicy (beta and off by default in 1.34) for full clusters: `failJobPods` (failing-jobs.ts)
 * labels the pods of chosen Jobs with it, so that kwok fails them.
 */
const mutatingAdmissionPolicyArgs = [
  "--feature-gates=MutatingAdmissionPolicy=true",
  "--runtime-config=admissionregistration.k8s.io/v1beta1=true"
]

const fakeNode = {
  apiVersion: "v1",
  kind: "Node",
  metadata: {
    name: nodeName,
    labels: {
      "kubernetes.io/hostname": nodeName,
      "kubernetes.io/os": "linux",
      "kubernetes.io/arch": "amd64",
      type: "kwok"
    },
    annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" }
  },
  status: {
    allocatable: { cpu: "32", memory: "256Gi", pods: "110" },
    capacity: { cpu: "32", memory: "256Gi", pods: "110" }
  }
}

/**
 * The cluster's default StorageClass, served by kube-controller-manager's own host-path provisioner
 * (`--enable-hostpath-provisioner`, meant for single-node development clusters): a claim without a class binds at
 * once to a new PersistentVolume whose directory the controller-manager makes under `/tmp/hostpath_pv/` on this
 * machine, and removes when the claim is deleted (reclaim policy Delete). kwok's pods never mount it, so the
 * directories stay empty.
 */
export const defaultStorageClass = {
  apiVersion: "storage.k8s.io/v1",
  kind: "StorageClass",
  metadata: { name: "standard", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
  provisioner: "kubernetes.io/host-path",
  reclaimPolicy: "Delete",
  volumeBindingMode: "Immediate"
}

/** Where the host-path provisioner makes its directories (kube-controller-manager: `/tmp/hostpath_pv/<uid>`). */
const provisionedRoot = "/tmp/hostpath_pv/"

/** Removes the empty directories of this cluster's host-path volumes; anything else (or a failure) is left. */
const removeProvisionedDirectories = (objects: Objects) =>
  objects.list({ apiVersion: "v1", kind: "PersistentVolume" }).pipe(
    Effect.flatMap((volumes) =>
      Effect.sync(() => {
        for (const volume of volumes) {
          const dir = (volume.spec as { hostPath?: { path?: string } } | undefined)?.hostPath?.path
          if (dir === undefined || !dir.startsWith(provisionedRoot)) continue
          try {
            fs.rmdirSync(dir)
          } catch {
            // not empty or already gone: leave it
          }
        }
      })
    ),
    Effect.ignore
  )

const ok = (value: boolean) => (value ? Option.some(true) : Option.none())

const start = (
  options: LocalClusterOptions = {}
): Effect.Effect<LocalClusterInfo, ClusterError | BuildError, Scope.Scope> =>
  Effect.gen(function* () {
    const log = options.log ?? defaultLog
    const mode = options.components ?? "apiserver"
    const started = Date.now()
    const assets = yield* ensureAssets({ log })
    const needed: ReadonlyArray<BinaryName> =
      mode === "full" ? Object.values(binaries) : [binaries.etcd, binaries.apiserver]
    const missing = missingBinaries(assets.binDir).filter((name) => needed.includes(name))
    if (missing.length > 0) {
      return yield* new ClusterError({
        component: "assets",
        reason: `${assets.binDir} (${assets.source}) lacks ${missing.join(", ")}`
      })
    }
    const bin = (name: string) => path.join(assets.binDir, name)

    // The temp folder goes last, and stays when startup or the scope failed (its logs explain why).
    let keep = process.env.CONVEX_OPERATOR_KEEP_CLUSTER !== undefined
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-cluster-"))),
      (dir, exit) =>
        Effect.sync(() => {
          if ((Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) && !keep) {
            fs.rmSync(dir, { recursive: true, force: true })
          } else {
            log(`kept ${dir} (logs in ${path.join(dir, "logs")})`)
          }
        })
    )
    const logsDir = path.join(dir, "logs")
    const pkiDir = path.join(dir, "pki")
    for (const sub of [logsDir, pkiDir]) fs.mkdirSync(sub, { recursive: true })
    const pki = yield* generatePki(pkiDir).pipe(
      Effect.mapError((error) => new ClusterError({ component: "pki", reason: error.message }))
    )
    const reaper = yield* makeReaper
    reaper.registerDir(dir)
    const components: Array<Component> = []
    const launch = (name: string, command: string, args: ReadonlyArray<string>) =>
      startComponent({ name, command, args, logsDir }, reaper).pipe(
        Effect.tap((c) => Effect.sync(() => components.push(c)))
      )
    // Fails at once when any component has exited.
    const guard = Effect.suspend(() => {
      const dead = components.find((c) => c.exited() !== undefined)
      return dead === undefined
        ? Effect.void
        : Effect.fail(new ClusterError({ component: dead.name, reason: dead.exited()! }))
    })

    const body = Effect.gen(function* () {
      const [etcdClientPort, etcdPeerPort, apiserverPort] = (yield* freePorts(3)) as [number, number, number]
      const etcdUrl = `http://127.0.0.1:${etcdClientPort}`
      const peerUrl = `http://127.0.0.1:${etcdPeerPort}`
      yield* launch("etcd", bin(binaries.etcd), [
        `--data-dir=${path.join(dir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        "--unsafe-no-fsync=true",
        "--log-level=warn"
      ])
      yield* waitUntil(
        Effect.tryPromise(() => fetch(`${etcdUrl}/health`)).pipe(Effect.map((r) => ok(r.ok))),
        { component: "etcd", description: "/health", timeout: "30 seconds" },
        guard
      )

      const server = `https://127.0.0.1:${apiserverPort}`
      yield* launch("kube-apiserver", bin(binaries.apiserver), [
        `--etcd-servers=${etcdUrl}`,
        `--tls-cert-file=${pki.servingCertFile}`,
        `--tls-private-key-file=${pki.servingKeyFile}`,
        `--client-ca-file=${pki.caFile}`,
        `--secure-port=${apiserverPort}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        "--service-cluster-ip-range=10.0.0.0/24",
        "--allow-privileged=true",
        "--authorization-mode=RBAC",
        `--service-account-issuer=${server}/`,
        `--service-account-key-file=${pki.serviceAccountPublicKeyFile}`,
        `--service-account-signing-key-file=${pki.serviceAccountKeyFile}`,
        ...(mode === "full" ? mutatingAdmissionPolicyArgs : ["--disable-admission-plugins=ServiceAccount"]),
        ...(options.apiserverArgs ?? [])
      ])
      const credentials = { server, ca: pki.caPem, cert: pki.adminCertPem, key: pki.adminKeyPem }
      const http = yield* Effect.acquireRelease(
        Effect.sync(() => makeKubeHttp(credentials)),
        (http) => Effect.sync(() => http.close())
      )
      const objects = makeObjects(http)
      const apiserverReady = waitUntil(
        http
          .request({ method: "GET", path: "/readyz", timeoutMillis: 2_000 })
          .pipe(Effect.map((r) => ok(r.status === 200))),
        { component: "kube-apiserver", description: "/readyz", timeout: "60 seconds", interval: "200 millis" },
        guard
      )
      yield* apiserverReady
      const kubeconfigPath = path.join(dir, "kubeconfig")
      writeKubeconfig(kubeconfigPath, credentials)
      yield* waitUntil(
        objects.get({ apiVersion: "v1", kind: "Namespace" }, "default").pipe(Effect.map(Option.some)),
        { component: "kube-apiserver", description: "namespace default", timeout: "30 seconds" },
        guard
      )

      if (mode === "full") {
        yield* launch("kube-controller-manager", bin(binaries.controllerManager), [
          `--kubeconfig=${kubeconfigPath}`,
          "--bind-address=127.0.0.1",
          "--secure-port=0",
          "--leader-elect=false",
          // kwok renews the fake Node's lease, but not while the apiserver is down or frozen (fault tests), and it
          // takes a while to catch up after a restart. With the default 50 s grace the node controller then marks
          // the Node NotReady and every pod on it Ready=False, and kwok never makes a Running pod Ready again: a
          // StatefulSet's rolling update waits for that pod forever. Nothing here tests node failure.
          "--node-monitor-grace-period=10m",
          // Claims bind: the default StorageClass below provisions host-path volumes (dev/test clusters only).
          "--enable-hostpath-provisioner",
          `--root-ca-file=${pki.caFile}`,
          `--service-account-private-key-file=${pki.serviceAccountKeyFile}`
        ])
        yield* launch("kube-scheduler", bin(binaries.scheduler), [
          `--kubeconfig=${kubeconfigPath}`,
          "--bind-address=127.0.0.1",
          "--secure-port=0",
          "--leader-elect=false"
        ])
        yield* launch("kwok", bin(binaries.kwok), [
          `--kubeconfig=${kubeconfigPath}`,
          `--config=${[assets.kwokStagesFile, ...localKwokStageFiles].join(",")}`,
          "--manage-all-nodes=true",
          "--node-lease-duration-seconds=40"
        ])
        yield* objects
          .apply(fakeNode)
          .pipe(
            Effect.mapError(
              (error) => new ClusterError({ component: "kwok", reason: `creating Node: ${error.message}` })
            )
          )
        yield* Effect.acquireRelease(
          objects
            .apply(defaultStorageClass)
            .pipe(
              Effect.mapError(
                (error) =>
                  new ClusterError({ component: "kube-apiserver", reason: `creating StorageClass: ${error.message}` })
              )
            ),
          // Before the control plane stops: remove the (empty) directories of the volumes still provisioned.
          () => removeProvisionedDirectories(objects)
        )
        yield* waitUntil(
          objects
            .get({ apiVersion: "v1", kind: "Node" }, nodeName)
            .pipe(Effect.map((node) => ok(conditionStatus(node, "Ready") === "True"))),
          { component: "kwok", description: `Node ${nodeName} Ready`, timeout: "60 seconds", interval: "200 millis" },
          guard
        )
        // Pods need the namespace's ServiceAccount (ServiceAccount admission), made by the controller-manager.
        yield* waitUntil(
          objects
            .get({ apiVersion: "v1", kind: "ServiceAccount", namespace: "default" }, "default")
            .pipe(Effect.map(Option.some)),
          {
            component: "kube-controller-manager",
            description: "ServiceAccount default/default",
            timeout: "60 seconds",
            interval: "200 millis"
          },
          guard
        )
      }

      const crdFiles = [...(options.gatewayApi === true ? assets.gatewayApiCrds : []), ...(options.crds ?? [])]
      const installedCrds = crdFiles.length === 0 ? [] : yield* installCrds(objects, crdFiles)

      const componentNamed = (name: ComponentName) => {
        const found = components.find((c) => c.name === name)
        if (found === undefined) throw new Error(`no component ${name} in a "${mode}" cluster`)
        return found
      }
      const etcdCall = (call: string, body: unknown) =>
        Effect.tryPromise({
          try: async () => {
            const response = await fetch(`${etcdUrl}/v3/${call}`, { method: "POST", body: JSON.stringify(body) })
            if (!response.ok) throw new Error(`${response.status} ${await response.text()}`)
            return (await response.json()) as { header?: { revision?: string } }
          },
          catch: (cause) => new ClusterError({ component: "etcd", reason: `${call}: ${String(cause)}` })
        })
      const faults: Faults = {
        signal: (name, signal) => componentNamed(name).signal(signal),
        restart: (name, signal) =>
          Effect.gen(function* () {
            const component = yield* Effect.try({
              try: () => componentNamed(name),
              catch: (cause) => new ClusterError({ component: name, reason: String(cause) })
            })
            yield* Effect.promise(() => component.restart(signal))
            if (name === "kube-apiserver") yield* apiserverReady
          }),
        compactEtcd: Effect.gen(function* () {
          // The gRPC gateway takes keys as base64; a range over one key is enough to learn the revision.
          const range = yield* etcdCall("kv/range", { key: Buffer.from("/").toString("base64"), limit: 1 })
          const revision = Number(range.header?.revision ?? 0)
          yield* etcdCall("kv/compaction", { revision: String(revision), physical: true })
          return revision
        })
      }

      log(`${mode} cluster ready at ${server} in ${((Date.now() - started) / 1000).toFixed(1)}s`)
      return {
        components: mode,
        server,
        kubeconfigPath,
        ca: pki.caPem,
        cert: pki.adminCertPem,
        key: pki.adminKeyPem,
        dir,
        logsDir,
        binDir: assets.binDir,
        kubectl: bin(binaries.kubectl),
        etcdUrl,
        nodeName: mode === "full" ? nodeName : undefined,
        installedCrds,
        http,
        objects,
        assets,
        faults
      } satisfies LocalClusterInfo
    })

    return yield* body.pipe(
      Effect.tapError((error) =>
        Effect.sync(() => {
          keep = true
          console.error(`[cluster] startup failed: ${error.message}`)
          const tails = components.map(
            (c) => `--- ${c.name} (${c.exited() ?? "running"}): ${c.logFile}\n${logTail(c.logFile)}`
          )
          console.error(`[cluster] startup failed; component logs:\n${tails.join("\n")}`)
        })
      )
    )
  })

/** The running local cluster, as a service. */
export class LocalCluster extends Context.Tag("convex-operator/test/LocalCluster")<LocalCluster, LocalClusterInfo>() {
  /** Starts a cluster for the life of the current scope. */
  static readonly start = start
  static readonly layer = (options: LocalClusterOptions = {}) => Layer.scoped(LocalCluster, start(options))
}
