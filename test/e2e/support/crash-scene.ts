/**
 * The frame of the crash fault files. A file has one cluster (with an audit log) and several scenes; a scene is one
 * namespace with its own instances and its own operator process (watching only that namespace), so a failure in one
 * scene leaves the next one a clean start. A scene kills its operator with SIGKILL at seeded random points
 * (`crash`) or right after a request the audit log shows (`killInSteps`: a saga step has just begun), and restarts
 * it each time; `finish` stops it with SIGTERM and requires exit code 0.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { childKinds } from "@convex-operator/core"
import { install } from "convex-operator"
import { afterAll, beforeAll, expect } from "vitest"
import { type ClusterHandle, useLocalCluster } from "../../integration/support.js"
import { crdPaths } from "../../support/manifests.js"
import { type AuditEvent, type AuditLog, auditLog, auditTail, byOperator, lifecycle, notCreatedOnce } from "./audit.js"
import { cleanUpAfterFile, endOf, type ProcessEnd } from "./clean-up.js"
import {
  converge,
  diagnosis,
  faultSeed,
  generatedSecrets,
  type Json,
  kubeHelpers,
  secretProblems,
  seededRandom,
  sleep
} from "./fault.js"
import { type Kubectl, makeKubectl } from "./kube.js"
import { bundleOperator, type OperatorProcess, startOperator } from "./operator-process.js"
import { operatorKubeconfig } from "./service-account-kubeconfig.js"

export interface CrashFile {
  readonly cluster: ClusterHandle
  readonly audit: AuditLog
  readonly work: string
  readonly random: () => number
  readonly kubectl: () => Kubectl
  readonly kills: Array<string>
  readonly timings: Array<string>
  /** Runs `body` and records how long it took under `phase`. */
  readonly timed: (phase: string, body: () => Promise<void>) => Promise<void>
  /** @internal */
  readonly setup: () => { bundle: string; operatorConfig: string }
  /** @internal */
  readonly scenes: Set<Scene>
}

/** One cluster for the file (with `gatewayApi`, the Gateway API CRDs), its audit log, the operator's bundle. */
export const crashFile = (label: string, options: { readonly gatewayApi?: boolean } = {}): CrashFile => {
  const seed = faultSeed()
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-fault-crash-"))
  const audit = auditLog(work)
  const cluster = useLocalCluster(
    {
      components: "full",
      crds: crdPaths,
      gatewayApi: options.gatewayApi ?? false,
      apiserverArgs: audit.apiserverArgs
    },
    180_000
  )
  let kubectl: Kubectl | undefined
  let setup: { bundle: string; operatorConfig: string } | undefined
  const kills: Array<string> = []
  const timings: Array<string> = []
  const scenes = new Set<Scene>()
  beforeAll(async () => {
    const info = cluster.info()
    kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
    kubeHelpers(kubectl).namespace(install.namespace)
    setup = { operatorConfig: operatorKubeconfig(kubectl, info, work), bundle: await bundleOperator(work) }
  }, 120_000)
  cleanUpAfterFile({
    label: `[${label}] seed ${seed}:`,
    work,
    // Each scene's last operator, judged on its own (`finish` asserted exit 0 already; one still running here belongs
    // to a scene that failed before it, and a scene's afterAll stopped it without looking at the code).
    stop: async () => {
      const ends: Array<ProcessEnd> = []
      for (const scene of scenes) ends.push(await endOf(scene.ns, scene.operator()))
      return ends
    },
    summary: () => `${kills.length} kills (${kills.join(" ")}); ${timings.join(", ")}`
  })
  return {
    cluster,
    audit,
    work,
    random: seededRandom(seed),
    kubectl: () => {
      if (kubectl === undefined) throw new Error("the cluster is not up (beforeAll failed)")
      return kubectl
    },
    kills,
    timings,
    timed: async (phase, body) => {
      const started = Date.now()
      await body()
      timings.push(`${phase} ${((Date.now() - started) / 1000).toFixed(1)}s`)
    },
    setup: () => {
      if (setup === undefined) throw new Error("the cluster is not up (beforeAll failed)")
      return setup
    },
    scenes
  }
}

/** A request of the operator that begins a step; `landed` (checked after the kill) confirms it did. */
export interface Step {
  readonly label: string
  readonly match: (event: AuditEvent) => boolean
  readonly landed?: (event: AuditEvent) => boolean
}

export type Strategy = "inPlace" | "exportImport"

export interface Scene {
  readonly ns: string
  readonly names: ReadonlyArray<string>
  readonly operator: () => OperatorProcess | undefined
  readonly kubectl: () => Kubectl
  readonly apply: (object: unknown) => void
  readonly instance: (name: string, version: string, extra?: Json) => Json
  readonly read: () => ReadonlyArray<Json>
  /** Waits until `check` holds for `names` (default all), with a diagnosis of each that does not. */
  readonly converge: (
    description: string,
    check: (object: Json | undefined, name: string) => boolean,
    names?: ReadonlyArray<string>
  ) => Promise<true>
  /** Starts the operator again (after `finish`, or with other flags). */
  readonly start: (options?: { readonly waitReady?: boolean; readonly args?: ReadonlyArray<string> }) => Promise<void>
  /** `count` times: a seeded random 0–2.5 s, SIGKILL, start again (a third of them without waiting for the caches). */
  readonly crash: (phase: string, count: number) => Promise<void>
  /**
   * Runs `begin` (the change that starts the steps), tailing the audit log from before it, and SIGKILLs the operator
   * right after the first request of each step, until each landed.
   */
  readonly killInSteps: (
    phase: string,
    begin: () => void,
    steps: ReadonlyArray<Step>,
    timeoutMillis?: number
  ) => Promise<void>
  /** SIGTERM; the operator must exit with 0. */
  readonly finish: () => Promise<void>
  /** The generated Secrets of `names` (default all). */
  readonly secrets: (names?: ReadonlyArray<string>) => ReturnType<typeof generatedSecrets>
  /** Each generated Secret byte for byte as `before` (when it existed) and its admin key verifying. */
  readonly expectSecretsKept: (before: ReturnType<typeof generatedSecrets>, names?: ReadonlyArray<string>) => void
  /** The operator's requests about this namespace, from the audit log (from `fromOffset` on). */
  readonly events: (fromOffset?: number) => ReadonlyArray<AuditEvent>
  /** All this scene's operators' logs, oldest first. */
  readonly operatorLogs: () => string
}

/**
 * A scene in namespace `ns` with the instances of `strategies` (name → upgrade strategy): registers a beforeAll that
 * makes the namespace and a pre-bound volume for each instance's backup claim, and starts the operator.
 */
export const crashScene = (
  file: CrashFile,
  ns: string,
  strategies: Readonly<Record<string, Strategy>>,
  options: { readonly args?: ReadonlyArray<string>; readonly beforeStart?: () => void | Promise<void> } = {}
): Scene => {
  const names = Object.keys(strategies)
  let operator: OperatorProcess | undefined
  let args = options.args ?? []
  const logFiles: Array<string> = []
  const kubectl = () => file.kubectl()

  const start = async (
    startOptions: { readonly waitReady?: boolean; readonly args?: ReadonlyArray<string> } = {}
  ): Promise<void> => {
    if (startOptions.args !== undefined) args = startOptions.args
    const { bundle, operatorConfig } = file.setup()
    operator = await startOperator({
      kubeconfig: operatorConfig,
      logDir: file.work,
      bundle,
      waitReady: startOptions.waitReady ?? true,
      args: [`--namespaces=${ns}`, "--operator-image=registry.example/convex-operator:fault", ...args]
    })
    logFiles.push(operator.logFile)
  }
  const current = () => {
    if (operator === undefined) throw new Error(`no operator for ${ns} (beforeAll failed)`)
    return operator
  }
  const operatorLogs = () => logFiles.map((log) => fs.readFileSync(log, "utf8")).join("")
  const scene: Scene = {
    ns,
    names,
    operator: () => operator,
    kubectl,
    apply: (object) => kubeHelpers(kubectl()).apply(object),
    instance: (name, version, extra = {}) => ({
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexInstance",
      metadata: { name, namespace: ns },
      spec: {
        environment: "dev",
        version,
        maintenance: { upgradeStrategy: strategies[name] ?? "inPlace" },
        ...extra
      }
    }),
    read: () => kubeHelpers(kubectl()).instances(ns),
    converge: (description, check, only = names) =>
      converge(`${ns}: ${description}`, only, scene.read, check, {
        log: () => current().logTail(20),
        diagnose: (name) =>
          diagnosis(kubectl(), ns, name, { operatorLog: operatorLogs, clusterLogs: file.cluster.info().logsDir })
      }),
    start,
    crash: async (phase, count) => {
      for (let i = 0; i < count; i++) {
        const delay = Math.floor(file.random() * 2500)
        const early = file.random() < 0.35
        await sleep(delay)
        await current().kill()
        file.kills.push(`${ns}:${phase}@${delay}ms${early ? "*" : ""}`)
        await start({ waitReady: !early })
      }
      // The last restart must get to reconcile.
      if (!current().running()) await start()
    },
    killInSteps: async (phase, begin, steps, timeoutMillis = 240_000) => {
      // From before the change: the operator may begin a step while `begin` is still applying (one kubectl each).
      const tail = auditTail(file.audit)
      begin()
      const pending = new Set(steps)
      const deadline = Date.now() + timeoutMillis
      const hint = `"namespace":"${ns}"`
      while (pending.size > 0) {
        if (Date.now() > deadline) {
          throw new Error(
            `${ns}: no kill landed inside ${[...pending].map((step) => step.label).join(", ")} within ${timeoutMillis} ms\n${current().logTail(20)}`
          )
        }
        const begun = tail.next(hint).filter(byOperator)
        const hits = [...pending].flatMap((step) => {
          const event = begun.find(step.match)
          return event === undefined ? [] : [{ step, event }]
        })
        if (hits.length > 0) {
          // Everything in this batch happened before the kill, a few milliseconds ago at most.
          await current().kill()
          for (const { step, event } of hits) {
            const landed = step.landed?.(event) ?? true
            file.kills.push(`${ns}:${phase}:${step.label}(${event.objectRef?.name})${landed ? "" : "?"}`)
            if (landed) pending.delete(step)
          }
          await start({ waitReady: false })
        }
        await sleep(20)
      }
      if (!current().running()) await start()
    },
    finish: async () => {
      const code = await current().stop()
      expect(code, `${ns}: the operator's exit code after SIGTERM\n${current().logTail(20)}`).toBe(0)
    },
    secrets: (only = names) => generatedSecrets(kubectl(), ns, only),
    expectSecretsKept: (before, only = names) => {
      expect(secretProblems(before, generatedSecrets(kubectl(), ns, only))).toEqual([])
    },
    events: (fromOffset = 0) =>
      file.audit
        .events(fromOffset, `"namespace":"${ns}"`)
        .filter((event) => byOperator(event) && event.objectRef?.namespace === ns),
    operatorLogs
  }
  file.scenes.add(scene)
  beforeAll(async () => {
    const helpers = kubeHelpers(kubectl())
    helpers.namespace(ns)
    for (const name of names) helpers.backupVolume(ns, name)
    await options.beforeStart?.()
    await start()
  }, 120_000)
  // A scene that failed before `finish` stops its operator here, so the next scene runs on a quiet machine.
  afterAll(async () => {
    await operator?.stop()
  }, 60_000)
  return scene
}

/** `kubectl get` names of every kind an instance may own (`childKinds` of core), e.g. `statefulsets.apps`. */
export const childResources: ReadonlyArray<{ readonly kind: string; readonly plural: string; readonly type: string }> =
  childKinds.map(({ apiVersion, kind }) => {
    const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : ""
    const lower = kind.toLowerCase()
    // The apiserver's plural of every child kind: Ingress → ingresses, NetworkPolicy → networkpolicies.
    const plural = lower.endsWith("s")
      ? `${lower}es`
      : /[^aeiou]y$/.test(lower)
        ? `${lower.slice(0, -1)}ies`
        : `${lower}s`
    return { kind, plural, type: group === "" ? plural : `${plural}.${group}` }
  })

/** Every object of the child kinds (and Pods) in `ns`, with `selector` if given; kinds the cluster lacks give none. */
export const objectsIn = (kubectl: Kubectl, ns: string, selector?: string): ReadonlyArray<Json> =>
  [...childResources.map((resource) => resource.type), "pods"].flatMap((type) => {
    try {
      return (
        kubectl.json<Json>([type, "-n", ns, ...(selector === undefined ? [] : ["-l", selector])])?.items ?? []
      ).map((item: Json) => ({ ...item, kind: item.kind ?? type }))
    } catch (error) {
      if (String(error).includes("doesn't have a resource type")) return []
      throw error
    }
  })

/**
 * What the audit log and the namespace say against "each object created exactly once": every object of a child kind
 * labelled as the operator's, and every name the operator created, has exactly one successful create (201) by the
 * operator, so none was created twice, not even after a delete. Empty when all is well.
 */
export const createdOnceProblems = (scene: Scene): ReadonlyArray<string> => {
  const events = scene.events()
  const present = objectsIn(scene.kubectl(), scene.ns, "app.kubernetes.io/managed-by=convex-operator")
  return childResources.flatMap(({ kind, plural }) => {
    const existing = new Set(present.filter((item) => item.kind === kind).map((item) => item.metadata.name as string))
    const names = new Set(existing)
    for (const name of lifecycle(events, plural, scene.ns).keys()) names.add(name)
    return notCreatedOnce(events, plural, scene.ns, [...names], existing).map((problem) => `${plural}/${problem}`)
  })
}
