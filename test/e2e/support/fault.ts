/**
 * Shared pieces of the fault-injection files: a seeded random source (the seed is printed, and FAULT_SEED replays a
 * run), kubectl shorthands for ConvexInstances, and what "converged" means for a fleet of them.
 */
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
  /** A PersistentVolume pre-bound to the backup claim of `ns/name` (pre-upgrade backups) (the test cluster has no provisioner). */
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

/** Waits until `check` holds for every instance named; the detail names those that do not. */
export const converge = (
  description: string,
  names: ReadonlyArray<string>,
  read: () => ReadonlyArray<Json>,
  check: (object: Json | undefined, name: string) => boolean,
  options: { readonly timeoutMillis?: number; readonly log?: () => string } = {}
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
        const states = behind.map((name) => `${name}: ${JSON.stringify(byName.get(name)?.status ?? null)}`)
        return `${states.join("\n")}${options.log === undefined ? "" : `\noperator log:\n${options.log()}`}`
      }
    }
  )
}
