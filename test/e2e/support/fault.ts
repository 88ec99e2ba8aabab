/**
 * Shared pieces of the fault-injection files: a seeded random source (the seed is printed, and FAULT_SEED replays a
 * run), kubectl shorthands for ConvexInstances, and what "converged" means for a fleet of them.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { secretKeys, verifyAdminKey } from "@convex-operator/core"
import { conditionOf, eventually, type Kubectl } from "./kube.js"

/** mulberry32: a tiny seeded PRNG, enough to replay the same kill points (no library needed for 6 lines). */
export const seededRandom = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** FAULT_SEED, or a fresh one. */
export const faultSeed = (): number =>
  process.env.FAULT_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.FAULT_SEED)

export const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

// biome-ignore lint/suspicious/noExplicitAny: kubectl output, checked by the assertions
export type Json = Record<string, any>

export const v1 = "1111111111111111111111111111111111111111"
export const v2 = "2222222222222222222222222222222222222222"

export const kubeHelpers = (kubectl: Kubectl) => {
  const apply = (object: unknown) =>
    kubectl(["apply", "--server-side", "--force-conflicts", "--field-manager=e2e", "-f", "-"], JSON.stringify(object))
  const namespace = (name: string) => apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } })
  const instances = (ns: string): ReadonlyArray<Json> => kubectl.json<Json>(["convexinstances", "-n", ns])?.items ?? []
  /** A PersistentVolume pre-bound to the backup claim of `ns/name`, on the folder `/tmp/<ns>-<name>-backups`. */
  const backupVolume = (ns: string, name: string) =>
    apply({
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: { name: `${ns}-${name}-backups` },
      spec: {
        claimRef: { namespace: ns, name: `${name}-backups` },
        capacity: { storage: "10Gi" },
        accessModes: ["ReadWriteOnce"],
        persistentVolumeReclaimPolicy: "Retain",
        storageClassName: "",
        hostPath: { path: `/tmp/${ns}-${name}-backups` }
      }
    })
  return { apply, namespace, instances, backupVolume }
}

/** Ready on `version`, no upgrade running, and the status describes the current generation. */
export const readyOn = (object: Json | undefined, version: string): boolean =>
  object !== undefined &&
  object.status?.phase === "Ready" &&
  conditionOf(object, "Ready")?.status === "True" &&
  object.status?.currentVersion === version &&
  object.status?.observedGeneration === object.metadata?.generation &&
  (conditionOf(object, "UpgradeInProgress")?.reason ?? "UpToDate") === "UpToDate"

/**
 * Waits until `check` holds for every instance named; the detail names those that do not, with `diagnose(name)`
 * for each of them (see {@link diagnosis}) and the operator's log tail.
 */
export const converge = (
  description: string,
  names: ReadonlyArray<string>,
  read: () => ReadonlyArray<Json>,
  check: (object: Json | undefined, name: string) => boolean,
  options: {
    readonly timeoutMillis?: number
    readonly log?: () => string
    readonly diagnose?: (name: string) => string
  } = {}
) => {
  let behind: ReadonlyArray<string> = names
  return eventually(
    description,
    () => {
      const byName = new Map(read().map((object) => [object.metadata.name as string, object]))
      behind = names.filter((name) => !check(byName.get(name), name))
      return behind.length === 0 ? true : undefined
    },
    {
      timeoutMillis: options.timeoutMillis ?? 90_000,
      intervalMillis: 500,
      detail: () => {
        const byName = new Map(read().map((object) => [object.metadata.name as string, object]))
        const states = behind.map(
          (name) =>
            `${name}: ${JSON.stringify(byName.get(name)?.status ?? null)}${
              options.diagnose === undefined ? "" : `\n${safely(() => options.diagnose!(name))}`
            }`
        )
        return `${states.join("\n")}${options.log === undefined ? "" : `\noperator log:\n${options.log()}`}`
      }
    }
  )
}

const safely = (body: () => string): string => {
  try {
    return body()
  } catch (error) {
    return `(diagnosis failed: ${String(error)})`
  }
}

/** The last `count` lines of `text` that contain `needle`. */
const linesWith = (text: string, needle: string, count: number) =>
  text
    .split("\n")
    .filter((line) => line.includes(needle))
    .slice(-count)
    .join("\n")

const readText = (file: string) => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return ""
  }
}

/**
 * Why an instance lags, from both sides: what the cluster holds (the backend StatefulSet's generation, template image
 * and status with its revisions; its pods with their controller-revision-hash, phase and conditions; its
 * ControllerRevisions), what the operator last said about the instance, and what kube-controller-manager and kwok
 * last said about its StatefulSet and pods. With it a convergence timeout tells a missed change in the operator from
 * a rollout the cluster never finished.
 */
export const diagnosis = (
  kubectl: Kubectl,
  ns: string,
  name: string,
  sources: { readonly operatorLog?: () => string; readonly clusterLogs?: string } = {}
): string => {
  const statefulSet = kubectl.json<Json>(["statefulset", `${name}-backend`, "-n", ns])
  const lines: Array<string> = []
  if (statefulSet === undefined) {
    lines.push(`  StatefulSet ${name}-backend: absent`)
  } else {
    const container = statefulSet.spec.template.spec.containers[0] ?? {}
    const phase = (container.env ?? []).find((env: Json) => env.name === "FAULT_PHASE")?.value
    lines.push(
      `  StatefulSet ${name}-backend: generation ${statefulSet.metadata.generation}, resourceVersion ${statefulSet.metadata.resourceVersion}, image ${container.image}, FAULT_PHASE ${phase ?? "-"}`,
      `    status ${JSON.stringify(statefulSet.status ?? null)}`
    )
    const selector = Object.entries(statefulSet.spec.selector?.matchLabels ?? {})
      .map(([key, value]) => `${key}=${value}`)
      .join(",")
    const pods = kubectl.json<Json>(["pods", "-n", ns, "-l", selector])?.items ?? []
    for (const pod of pods) {
      const conditions = (pod.status?.conditions ?? []).map((c: Json) => `${c.type}=${c.status}`).join(" ")
      lines.push(
        `    pod ${pod.metadata.name} uid ${String(pod.metadata.uid).slice(0, 8)} revision ${pod.metadata.labels?.["controller-revision-hash"]} phase ${pod.status?.phase} ${conditions}${pod.metadata.deletionTimestamp === undefined ? "" : ` deleting since ${pod.metadata.deletionTimestamp}`} created ${pod.metadata.creationTimestamp}`
      )
    }
    if (pods.length === 0) lines.push(`    no pod matches ${selector}`)
    const revisions = (kubectl.json<Json>(["controllerrevisions", "-n", ns])?.items ?? []).filter((revision: Json) =>
      (revision.metadata.ownerReferences ?? []).some((owner: Json) => owner.uid === statefulSet.metadata.uid)
    )
    lines.push(`    revisions ${revisions.map((r: Json) => `${r.metadata.name}#${r.revision}`).join(" ")}`)
  }
  if (sources.operatorLog !== undefined) {
    lines.push(`  operator on ${ns}/${name}:`, linesWith(sources.operatorLog(), `${ns}/${name}`, 12))
  }
  if (sources.clusterLogs !== undefined) {
    for (const component of ["kube-controller-manager", "kwok"]) {
      const said = linesWith(readText(path.join(sources.clusterLogs, `${component}.log`)), `${name}-backend`, 6)
      lines.push(`  ${component} on ${name}-backend:`, said === "" ? "    (nothing)" : said)
    }
  }
  return lines.join("\n")
}

/** The data of each instance's generated Secret `<name>-convex-secrets` (undefined when absent). */
export const generatedSecrets = (
  kubectl: Kubectl,
  ns: string,
  names: ReadonlyArray<string>
): ReadonlyMap<string, Readonly<Record<string, string>> | undefined> =>
  new Map(names.map((name) => [name, kubectl.json<Json>(["secret", `${name}-convex-secrets`, "-n", ns])?.data]))

/**
 * What is wrong with the generated Secrets `after` a phase: each must be byte for byte what it was `before` (when it
 * existed then), and its admin key must verify against its instance secret (the library's own check). Empty when
 * all is well; the messages name the instance and the key, never a value.
 */
export const secretProblems = (
  before: ReadonlyMap<string, Readonly<Record<string, string>> | undefined>,
  after: ReadonlyMap<string, Readonly<Record<string, string>> | undefined>
): ReadonlyArray<string> =>
  [...after].flatMap(([name, data]) => {
    if (data === undefined) return [`${name}: the generated Secret is missing`]
    const previous = before.get(name)
    const problems: Array<string> = []
    if (previous !== undefined) {
      const keys = new Set([...Object.keys(previous), ...Object.keys(data)])
      for (const key of keys) if (previous[key] !== data[key]) problems.push(`${name}: ${key} changed`)
    }
    const value = (key: string) => Buffer.from(data[key] ?? "", "base64").toString("utf8")
    if (!verifyAdminKey(value(secretKeys.adminKey), name, value(secretKeys.instanceSecret))) {
      problems.push(`${name}: the admin key does not verify against the instance secret`)
    }
    return problems
  })
