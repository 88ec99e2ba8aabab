/**
 * `npm run bench -- [--n 100] [--rest 300] [--changes 20] [--concurrency 4] [--apply-concurrency 4] [--kube-api-qps 0]
 * [--kube-api-burst 100] [--cpu-prof dir] [--node-flag=--max-semi-space-size=4 …] [--operator-env NAME=value …]
 * [--floor-runs 3] [--floor-verb create|apply] [--out name]`: the operator's
 * numbers on the full local cluster (kwok nodes, the e2e Gateway controller), the operator as a separate process
 * under its generated RBAC, with Node's `--node-flag`s. Never part of `npm test`. Prints a table and writes
 * `bench/results/<name>.json` (default `n<N>`):
 *
 * 1. fleet convergence: N instances created at once; wall time until every child exists and every instance is
 *    Ready; per-instance latency p50/p95/p99;
 * 2. API cost: the operator's requests until all Ready, per instance by verb and by verb and resource, from the
 *    apiserver's audit log (a policy that logs the operator's ServiceAccount only);
 * 3. cost at rest: requests per minute and writes over `--rest` seconds with all Ready; operator CPU seconds and
 *    RSS from /proc; reconciles in the window and V8's heap at its end (the operator's metrics);
 * 4. change latency: `--changes` version changes one after another, until the StatefulSet has the new image;
 * 5. the floor (floor.ts): the instances and the children the operator renders for them, created by a minimal client
 *    straight against the apiserver (by POST, or with `--floor-verb apply` by server-side apply as the operator
 *    sends them), `--floor-runs` times before the fleet and as often after it (operator stopped),
 *    the median of each kept; (1) as a ratio of the median before.
 *
 * The operator's throughput flags are its defaults unless given; `--cpu-prof dir` has Node write the operator's CPU
 * profile there when it stops (the result names the rest window's offsets from the operator's start, to cut it out).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { crdFiles } from "@convex-operator/core"
import { install, tuningDefaults } from "convex-operator"
import { Effect, Exit, Scope } from "effect"
import { operatorNodeOptions } from "../scripts/bundle-operator.js"
import { LocalCluster } from "../test/cluster/local-cluster.js"
import { type AuditEvent, auditLog, byOperator, writeVerbs } from "../test/e2e/support/audit.js"
import { startGatewayController } from "../test/e2e/support/gateway-controller.js"
import { makeKubectl } from "../test/e2e/support/kube.js"
import { bundleOperator, startOperator } from "../test/e2e/support/operator-process.js"
import { operatorKubeconfig } from "../test/e2e/support/service-account-kubeconfig.js"
import { repoRoot } from "../test/support/manifests.js"
import { backupVolume, changeLatencies, createFleet, gatewayNamespace, instanceName, namespace } from "./fleet.js"
import { measureFloor } from "./floor.js"
import { makeApi, sleep } from "./kube.js"
import { cpuSeconds, memory } from "./proc.js"
import { seconds, spread, table } from "./stats.js"

const { values: flags } = parseArgs({
  options: {
    n: { type: "string", default: "100" },
    rest: { type: "string", default: "300" },
    changes: { type: "string", default: "20" },
    concurrency: { type: "string" },
    "apply-concurrency": { type: "string" },
    "kube-api-qps": { type: "string" },
    "kube-api-burst": { type: "string" },
    "cpu-prof": { type: "string" },
    "node-flag": { type: "string", multiple: true },
    "operator-env": { type: "string", multiple: true },
    out: { type: "string" },
    "floor-concurrency": { type: "string", default: "16" },
    "floor-runs": { type: "string", default: "3" },
    "floor-verb": { type: "string", default: "create" },
    note: { type: "string", default: "machine shared with three other engineers' test runs" }
  }
})
const n = Number(flags.n)
const restSeconds = Number(flags.rest)
const changes = Math.min(n, Number(flags.changes))
const operatorFlags = {
  "max-concurrent-reconciles": Number(flags.concurrency ?? tuningDefaults.maxConcurrentReconciles),
  "apply-concurrency": Number(flags["apply-concurrency"] ?? tuningDefaults.applyConcurrency),
  "kube-api-qps": Number(flags["kube-api-qps"] ?? tuningDefaults.kubeApiQps),
  "kube-api-burst": Number(flags["kube-api-burst"] ?? tuningDefaults.kubeApiBurst)
}
const operatorArgs = Object.entries(operatorFlags).map(([flag, value]) => `--${flag}=${value}`)
const floorConcurrency = Number(flags["floor-concurrency"])
const floorRuns = Number(flags["floor-runs"])
/** `--operator-env NAME=value`, repeatable: the operator process's environment on top of the bench's. */
const operatorEnv = Object.fromEntries(
  (flags["operator-env"] ?? []).map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)])
)
const floorVerb = flags["floor-verb"] === "apply" ? "apply" : "create"

const machine = () => ({
  cores: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
  loadavg: os.loadavg().map((load) => Math.round(load * 100) / 100)
})

const log = (line: string) => console.log(`[bench] ${line}`)

const main = async () => {
  const startedAt = new Date().toISOString()
  const machineBefore = machine()
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-bench-"))
  const operatorUser = `system:serviceaccount:${install.namespace}:${install.serviceAccount}`
  const audit = auditLog(work, [operatorUser])
  const scope = Effect.runSync(Scope.make())
  const cluster = await Effect.runPromise(
    Scope.extend(
      LocalCluster.start({
        components: "full",
        gatewayApi: true,
        crds: crdFiles.map((file) => path.join(repoRoot, file.path)),
        // Two Services with a cluster IP per instance, twice (while a floor run's namespace is deleted): more than the
        // default /24 holds.
        apiserverArgs: [...audit.apiserverArgs, "--service-cluster-ip-range=10.0.0.0/16"]
      }),
      scope
    )
  )
  const stops: Array<() => Promise<unknown>> = []
  let failed = true
  try {
    const api = makeApi(cluster.http)
    const kubectl = makeKubectl(cluster.kubectl, cluster.kubeconfigPath)
    const version = (await api.call("GET", "/version")).body.gitVersion as string
    const apply = (object: unknown) =>
      kubectl(["apply", "--server-side", "--field-manager=bench", "-f", "-"], JSON.stringify(object))
    for (const name of [install.namespace, namespace, gatewayNamespace]) {
      apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } })
    }
    // Room for two pods per instance, the changes' pods and Jobs: kwok nodes of 1000 pods each (the floor's
    // workloads have no pods).
    const nodes = Math.ceil((2 * n + 2 * changes + 50) / 1000)
    for (let index = 0; index < nodes; index++) {
      await Effect.runPromise(
        cluster.objects.apply({
          apiVersion: "v1",
          kind: "Node",
          metadata: {
            name: `bench-node-${index}`,
            labels: { "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", type: "kwok" },
            annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" }
          },
          status: {
            allocatable: { cpu: "1000", memory: "4Ti", pods: "1000" },
            capacity: { cpu: "1000", memory: "4Ti", pods: "1000" }
          }
        })
      )
    }
    apply({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: "shared", namespace: gatewayNamespace },
      spec: {
        gatewayClassName: "nginx",
        listeners: [{ name: "http", protocol: "HTTP", port: 80, allowedRoutes: { namespaces: { from: "All" } } }]
      }
    })
    const changed = Array.from({ length: changes }, (_, k) => instanceName(Math.floor((k * n) / changes)))
    for (const name of changed) apply(backupVolume(name))
    // 5, first half: the floor on the empty cluster, before anything of ours runs.
    const floorOptions = { n, concurrency: floorConcurrency, runs: floorRuns, verb: floorVerb } as const
    const floorBefore = await measureFloor(api, { ...floorOptions, label: "before" })
    log(`floor before: ${floorBefore.objects} objects in ${floorBefore.wallMillis.map(seconds).join(", ")}`)
    // The stand-in Gateway implementation polls (lists every Gateway and HTTPRoute): every 2 s at N = 1000.
    const stopGatewayController = startGatewayController(cluster.objects, Math.max(1000, 2 * n))
    stops.push(stopGatewayController)
    const bundle = await bundleOperator(work)
    const operator = await startOperator({
      kubeconfig: operatorKubeconfig(kubectl, cluster, work),
      logDir: work,
      bundle,
      logLevel: "info",
      args: operatorArgs,
      env: operatorEnv,
      nodeArgs: [
        ...(flags["node-flag"] ?? []),
        ...(flags["cpu-prof"] === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${path.resolve(flags["cpu-prof"])}`])
      ]
    })
    const operatorStarted = Date.now()
    /** Reconciles the operator has run so far (its controller_runtime_reconcile_total, every result). */
    const reconciles = async () => {
      const text = await (await fetch(operator.metricsUrl)).text()
      return text
        .split("\n")
        .filter((line) => line.startsWith("controller_runtime_reconcile_total{"))
        .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0)
    }
    stops.push(() => operator.stop())
    const cpuAtStart = cpuSeconds(operator.pid)
    log(`Kubernetes ${version}, N=${n}, ${nodes} extra kwok nodes; operator pid ${operator.pid}`)

    // 1 and 2: the fleet.
    const fleetOffset = audit.offset()
    const harnessCpuAtStart = process.cpuUsage()
    const fleet = await createFleet(api, n, {
      createConcurrency: 16,
      // Each poll lists every instance and (metadata only) every child: at N = 1000 that is 10 000 objects a time.
      pollMillis: n <= 100 ? 500 : 2000,
      timeoutMillis: Math.max(600_000, n * 3_000)
    })
    const cpuAtReady = cpuSeconds(operator.pid)
    const harnessCpu = process.cpuUsage(harnessCpuAtStart)
    const convergeEvents = audit.events(fleetOffset).filter(byOperator)
    const byVerb = (events: ReadonlyArray<{ verb: string }>) => {
      const counts: Record<string, number> = {}
      for (const event of events) counts[event.verb] = (counts[event.verb] ?? 0) + 1
      return counts
    }
    const convergeByVerb = byVerb(convergeEvents)
    const perN = (counts: Record<string, number>) =>
      Object.fromEntries(Object.entries(counts).map(([key, count]) => [key, Math.round((count / n) * 100) / 100]))
    const perInstance = perN(convergeByVerb)
    // By verb and resource ("patch convexinstances/status", "create events"), most first.
    const byVerbAndResource = (events: ReadonlyArray<AuditEvent>) => {
      const counts: Record<string, number> = {}
      for (const event of events) {
        const ref = event.objectRef
        const resource = `${ref?.resource ?? "?"}${ref?.subresource === undefined ? "" : `/${ref.subresource}`}`
        counts[`${event.verb} ${resource}`] = (counts[`${event.verb} ${resource}`] ?? 0) + 1
      }
      return Object.fromEntries(Object.entries(counts).sort(([, a], [, b]) => b - a))
    }
    const perInstanceByResource = perN(byVerbAndResource(convergeEvents))
    log(`all ${n} Ready in ${seconds(fleet.readyWall)}; ${convergeEvents.length} operator requests`)
    // The events those requests created, per instance by reason (events.k8s.io: a series counts once).
    const eventReasons: Record<string, number> = {}
    for (const event of await api.list(`/apis/events.k8s.io/v1/namespaces/${namespace}/events`)) {
      eventReasons[event.reason] = (eventReasons[event.reason] ?? 0) + 1
    }
    const eventsPerInstance = perN(eventReasons)

    // 3: at rest. First let it go quiet (no write for 15 s), then count over the window.
    const quietSince = Date.now()
    let offset = audit.offset()
    for (;;) {
      await sleep(15_000)
      const writes = audit.events(offset).filter((event) => byOperator(event) && writeVerbs.has(event.verb))
      offset = audit.offset()
      if (writes.length === 0 || Date.now() - quietSince > 180_000) break
    }
    const settleMillis = Date.now() - quietSince
    const restOffset = audit.offset()
    const cpuBeforeRest = cpuSeconds(operator.pid)
    const reconcilesBeforeRest = await reconciles()
    let rssMax = 0
    const restStarted = Date.now()
    while (Date.now() - restStarted < restSeconds * 1000) {
      rssMax = Math.max(rssMax, memory(operator.pid).rssMiB)
      await sleep(Math.min(5000, restSeconds * 1000 - (Date.now() - restStarted)))
    }
    const restMillis = Date.now() - restStarted
    const restEvents = audit.events(restOffset).filter(byOperator)
    const restWrites = restEvents.filter((event) => writeVerbs.has(event.verb))
    const cpuRest = cpuSeconds(operator.pid) - cpuBeforeRest
    const restReconciles = (await reconciles()) - reconcilesBeforeRest
    const mem = memory(operator.pid)
    // V8's heap as the operator serves it (ProcessMetrics): what of the RSS the operator itself holds.
    const page = await (await fetch(operator.metricsUrl)).text()
    const mib = (name: string) => {
      const line = page.split("\n").find((l) => l.startsWith(`${name} `))
      return line === undefined ? undefined : Math.round(Number(line.slice(name.length + 1)) / 1048576)
    }
    const heap = { usedMiB: mib("nodejs_heap_size_used_bytes"), totalMiB: mib("nodejs_heap_size_total_bytes") }
    log(`rest: ${restEvents.length} requests, ${restWrites.length} writes in ${seconds(restMillis)}`)

    // 4: change latency.
    const changeMillis = await changeLatencies(api, changed, { pollMillis: 100, timeoutMillis: 120_000 })
    log(`changes: p50 ${seconds(spread(changeMillis).p50)}`)

    // 5, second half: the floor with the fleet in place, the operator and the Gateway implementation stopped.
    await operator.stop()
    await stopGatewayController()
    const floorAfter = await measureFloor(api, { ...floorOptions, label: "after" })
    log(`floor after: ${floorAfter.objects} objects in ${floorAfter.wallMillis.map(seconds).join(", ")}`)

    const result = {
      startedAt,
      note: flags.note,
      machine: { before: machineBefore, after: machine() },
      kubernetes: version,
      n,
      operator: {
        flags: operatorFlags,
        // The image's options come first (the bundle runs with them), then the bench's own.
        nodeFlags: [...operatorNodeOptions, ...(flags["node-flag"] ?? [])],
        ...(Object.keys(operatorEnv).length === 0 ? {} : { env: operatorEnv }),
        logLevel: "info",
        runs: `the image's bundle of the sources (scripts/bundle-operator.ts), Node ${process.version}`
      },
      instanceSpec:
        "dev sample without claim: SQLite on emptyDir, dashboard on, API+dashboard hosts on a shared Gateway (parentRefs)",
      convergence: {
        childrenPerInstance: fleet.childrenPerInstance,
        createsAnsweredMillis: fleet.createsDoneAt - fleet.createdAt,
        childrenExist: { wallMillis: fleet.childrenWall, ...spread(fleet.childrenLatency) },
        ready: { wallMillis: fleet.readyWall, ...spread(fleet.readyLatency) },
        operatorCpuSeconds: Math.round((cpuAtReady - cpuAtStart) * 100) / 100,
        // This process meanwhile: the polls and the stand-in Gateway implementation (they share the machine).
        benchCpuSeconds: Math.round((harnessCpu.user + harnessCpu.system) / 10_000) / 100
      },
      apiCost: {
        total: convergeEvents.length,
        perInstance: Math.round((convergeEvents.length / n) * 100) / 100,
        byVerb: convergeByVerb,
        perInstanceByVerb: perInstance,
        perInstanceByVerbAndResource: perInstanceByResource,
        eventsPerInstanceByReason: eventsPerInstance
      },
      rest: {
        settleMillis,
        windowSeconds: Math.round(restMillis / 1000),
        requests: restEvents.length,
        requestsPerMinute: Math.round((restEvents.length / (restMillis / 60_000)) * 100) / 100,
        byVerb: byVerb(restEvents),
        writes: restWrites.length,
        reconciles: restReconciles,
        cpuSeconds: Math.round(cpuRest * 100) / 100,
        windowFromOperatorStartMillis: [restStarted - operatorStarted, restStarted + restMillis - operatorStarted],
        rssMiB: Math.round(mem.rssMiB),
        rssMaxDuringRestMiB: Math.round(rssMax),
        peakRssMiB: Math.round(mem.peakRssMiB),
        heapMiB: heap
      },
      changeLatency: { changes: changeMillis.length, ...spread(changeMillis), samples: changeMillis },
      floor: {
        verb: floorVerb,
        concurrency: floorConcurrency,
        objects: floorBefore.objects,
        before: floorBefore,
        after: floorAfter,
        ratio: Math.round((fleet.childrenWall / floorBefore.median) * 100) / 100,
        readyRatio: Math.round((fleet.readyWall / floorBefore.median) * 100) / 100
      }
    }
    const out = path.join(repoRoot, "bench", "results", `${flags.out ?? `n${n}`}.json`)
    fs.mkdirSync(path.dirname(out), { recursive: true })
    fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`)
    const { convergence: c, rest, changeLatency: ch } = result
    console.log(
      `\n${table([
        [
          "machine",
          `${machineBefore.cores} cores, ${machineBefore.memoryGiB} GiB, load ${machineBefore.loadavg.join(" ")} → ${result.machine.after.loadavg.join(" ")} (${flags.note})`
        ],
        ["kubernetes / N", `${version} / ${n} (operator ${operatorArgs.join(" ")})`],
        [
          "1 children exist (wall)",
          `${seconds(c.childrenExist.wallMillis)}; per instance p50 ${seconds(c.childrenExist.p50)} p95 ${seconds(c.childrenExist.p95)} p99 ${seconds(c.childrenExist.p99)}`
        ],
        [
          "1 all Ready (wall)",
          `${seconds(c.ready.wallMillis)}; per instance p50 ${seconds(c.ready.p50)} p95 ${seconds(c.ready.p95)} p99 ${seconds(c.ready.p99)}`
        ],
        [
          "2 API cost per instance",
          `${result.apiCost.perInstance}: ${Object.entries(perInstanceByResource)
            .map(([request, count]) => `${request} ${count}`)
            .join(", ")}; events by reason: ${Object.entries(eventsPerInstance)
            .map(([reason, count]) => `${reason} ${count}`)
            .join(", ")}`
        ],
        [
          "3 at rest",
          `${rest.requestsPerMinute} requests/min, ${rest.writes} writes, ${rest.reconciles} reconciles over ${rest.windowSeconds} s; CPU ${rest.cpuSeconds} s; RSS ${rest.rssMiB} MiB (peak ${rest.peakRssMiB} MiB), heap ${rest.heapMiB.usedMiB} MiB used of ${rest.heapMiB.totalMiB}`
        ],
        ["4 change latency", `p50 ${seconds(ch.p50)} p95 ${seconds(ch.p95)} over ${ch.changes} changes`],
        [
          "5 floor",
          `${floorBefore.objects} objects (${floorVerb}, ${floorConcurrency} at once), median of ${floorRuns}: ${seconds(floorBefore.median)} before the fleet, ${seconds(floorAfter.median)} after; children-exist ratio ${result.floor.ratio}, Ready ratio ${result.floor.readyRatio}`
        ]
      ])}\n\nwritten to ${path.relative(repoRoot, out)}`
    )
    failed = false
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    // A failed run keeps the operator's log and the audit log for a look.
    if (failed) console.error(`[bench] kept ${work} (the operator's log, the audit log)`)
    else fs.rmSync(work, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
