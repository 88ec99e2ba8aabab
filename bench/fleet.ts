/**
 * The fleet: N ConvexInstances (the dev sample without its claim: SQLite on an emptyDir, dashboard on, API and
 * dashboard hosts on a shared Gateway by parentRefs), created at once; then polled until every instance's
 * children exist and every instance is Ready. Latencies are measured from the moment the create of each instance
 * was answered to the poll that first saw it done (polls every `pollMillis`, so that is the resolution).
 */
import { type Api, forEachLimited, type Json, sleep } from "./kube.js"

export const namespace = "bench"
export const gatewayNamespace = "bench-gateways"
export const instancePath = `/apis/convex.icod.de/v1alpha1/namespaces/${namespace}/convexinstances`
export const v1 = "1111111111111111111111111111111111111111"
export const v2 = "2222222222222222222222222222222222222222"

export const instanceName = (index: number) => `bench-${index}`

export const instanceSpec = (name: string) => ({
  environment: "dev",
  version: v1,
  // No claim, as in the recorded runs: pvc.enabled is true by default now, so the emptyDir is asked for, and
  // acceptDataLoss lets the version changes roll (the data guard would hold them otherwise).
  backend: { db: { engine: "sqlite" }, storage: { mode: "sqlite", pvc: { enabled: false }, acceptDataLoss: true } },
  dashboard: { enabled: true },
  networking: {
    host: `${name}.bench.example.com`,
    dashboardHost: `dashboard.${name}.bench.example.com`,
    parentRefs: [{ name: "shared", namespace: gatewayNamespace }]
  },
  maintenance: { upgradeStrategy: "inPlace" }
})

/** The kinds the operator creates for such an instance, with their list paths. */
export const childLists = [
  ["StatefulSet", `/apis/apps/v1/namespaces/${namespace}/statefulsets`],
  ["Deployment", `/apis/apps/v1/namespaces/${namespace}/deployments`],
  ["Service", `/api/v1/namespaces/${namespace}/services`],
  ["ConfigMap", `/api/v1/namespaces/${namespace}/configmaps`],
  ["Secret", `/api/v1/namespaces/${namespace}/secrets`],
  ["HTTPRoute", `/apis/gateway.networking.k8s.io/v1/namespaces/${namespace}/httproutes`]
] as const

export const managedSelector = "labelSelector=app.kubernetes.io%2Fmanaged-by%3Dconvex-operator"

const conditionTrue = (object: Json, type: string) =>
  ((object.status?.conditions ?? []) as ReadonlyArray<Json>).some((c) => c.type === type && c.status === "True")

export const isReady = (object: Json) =>
  conditionTrue(object, "Ready") &&
  conditionTrue(object, "DashboardReady") &&
  object.status?.observedGeneration === object.metadata?.generation

/** Children per instance (by the `app.kubernetes.io/instance` label). */
export const countChildren = async (api: Api): Promise<Map<string, number>> => {
  const counts = new Map<string, number>()
  for (const [, path] of childLists) {
    for (const item of await api.listMetadata(`${path}?${managedSelector}`)) {
      const instance = item.metadata?.labels?.["app.kubernetes.io/instance"] as string | undefined
      if (instance !== undefined) counts.set(instance, (counts.get(instance) ?? 0) + 1)
    }
  }
  return counts
}

export interface FleetResult {
  readonly createdAt: number
  /** When the last create was answered. */
  readonly createsDoneAt: number
  /** Per instance: ms from its create's answer to the poll that saw all its children / it Ready. */
  readonly childrenLatency: ReadonlyArray<number>
  readonly readyLatency: ReadonlyArray<number>
  /** Wall time from the first create to every child existing / every instance Ready. */
  readonly childrenWall: number
  readonly readyWall: number
  readonly childrenPerInstance: number
}

export const createFleet = async (
  api: Api,
  n: number,
  options: { readonly createConcurrency: number; readonly pollMillis: number; readonly timeoutMillis: number }
): Promise<FleetResult> => {
  const names = Array.from({ length: n }, (_, index) => instanceName(index))
  const answered = new Map<string, number>()
  const createdAt = Date.now()
  const creating = forEachLimited(names, options.createConcurrency, async (name) => {
    const response = await api.call("POST", instancePath, {
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexInstance",
      metadata: { name, namespace },
      spec: instanceSpec(name)
    })
    if (response.status !== 201)
      throw new Error(`creating ${name}: ${response.status} ${JSON.stringify(response.body)}`)
    answered.set(name, Date.now())
  })
  let createsDoneAt = 0
  let createError: unknown
  creating.then(
    () => {
      createsDoneAt = Date.now()
    },
    (error) => {
      createError = error
    }
  )

  const readyAt = new Map<string, number>()
  // Counts of children per instance, each time they changed: the expected count is known only at the end.
  const childHistory = new Map<string, Array<readonly [number, number]>>()
  const deadline = createdAt + options.timeoutMillis
  for (;;) {
    await sleep(options.pollMillis)
    if (createError !== undefined) throw createError
    const now = Date.now()
    for (const object of await api.list(instancePath)) {
      const name = object.metadata.name as string
      if (!readyAt.has(name) && isReady(object)) readyAt.set(name, now)
    }
    for (const [name, count] of await countChildren(api)) {
      const history = childHistory.get(name) ?? []
      if (history.at(-1)?.[1] !== count) history.push([now, count])
      childHistory.set(name, history)
    }
    if (readyAt.size === n && createsDoneAt !== 0) break
    if (now > deadline) {
      throw new Error(`${readyAt.size} of ${n} instances Ready after ${options.timeoutMillis / 1000} s`)
    }
    if (readyAt.size > 0 && readyAt.size % Math.max(1, Math.floor(n / 10)) === 0) {
      process.stdout.write(`  ${readyAt.size}/${n} Ready after ${((now - createdAt) / 1000).toFixed(0)} s\r`)
    }
  }
  await creating
  const childrenPerInstance = Math.max(...[...childHistory.values()].map((history) => history.at(-1)?.[1] ?? 0))
  const childrenAt = new Map(
    names.map((name) => [
      name,
      (childHistory.get(name) ?? []).find(([, count]) => count >= childrenPerInstance)?.[0] ?? Number.NaN
    ])
  )
  const latency = (at: Map<string, number>) => names.map((name) => (at.get(name) ?? 0) - (answered.get(name) ?? 0))
  return {
    createdAt,
    createsDoneAt,
    childrenLatency: latency(childrenAt),
    readyLatency: latency(readyAt),
    childrenWall: Math.max(...childrenAt.values()) - createdAt,
    readyWall: Math.max(...readyAt.values()) - createdAt,
    childrenPerInstance
  }
}

/** A PersistentVolume pre-bound to the backup claim of `name` (pre-upgrade backups go to it), on a known folder. */
export const backupVolume = (name: string) => ({
  apiVersion: "v1",
  kind: "PersistentVolume",
  metadata: { name: `${namespace}-${name}-backups` },
  spec: {
    claimRef: { namespace, name: `${name}-backups` },
    capacity: { storage: "10Gi" },
    accessModes: ["ReadWriteOnce"],
    persistentVolumeReclaimPolicy: "Retain",
    storageClassName: "",
    hostPath: { path: `/tmp/${namespace}-${name}-backups` }
  }
})

/**
 * Changes the version of each named instance, one after another, and measures until its StatefulSet carries the
 * new image (through the upgrade's export Job: the inPlace plan exports before it rolls).
 */
export const changeLatencies = async (
  api: Api,
  names: ReadonlyArray<string>,
  options: { readonly pollMillis: number; readonly timeoutMillis: number }
): Promise<ReadonlyArray<number>> => {
  const latencies: Array<number> = []
  for (const name of names) {
    const started = Date.now()
    const patched = await api.call(
      "PATCH",
      `${instancePath}/${name}`,
      { spec: { version: v2 } },
      "application/merge-patch+json"
    )
    if (patched.status !== 200) throw new Error(`patching ${name}: ${patched.status}`)
    for (;;) {
      const sts = await api.call("GET", `/apis/apps/v1/namespaces/${namespace}/statefulsets/${name}-backend`)
      const image = sts.body.spec?.template?.spec?.containers?.[0]?.image as string | undefined
      if (image?.endsWith(`:${v2}`)) break
      if (Date.now() - started > options.timeoutMillis) throw new Error(`${name}: no new image after the timeout`)
      await sleep(options.pollMillis)
    }
    latencies.push(Date.now() - started)
  }
  return latencies
}
