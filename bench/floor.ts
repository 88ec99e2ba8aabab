/**
 * The floor: the lower bound for "every child exists" on this machine. The bench's own minimal client (16 requests at
 * once) creates, straight against the apiserver, what the fleet's creation amounts to: the N ConvexInstances and, for
 * each, the children core's `renderInstance` gives (the operator's own rendering), in a namespace of their own, with
 * neither the operator nor the stand-in Gateway implementation running.
 *
 * Changed so that no controller reacts (the requests the apiserver serves are the same size): no owner references,
 * no managed-by label, the workloads at 0 replicas (the controller-manager creates no pods), the generated Secret's
 * values random ones of the operator's sizes instead of `renderInstance`'s placeholders.
 *
 * `runs` runs before the fleet (an empty cluster) and `runs` after it (the fleet in place, the operator stopped);
 * every run has a fresh namespace, deleted and waited for before the next, and each side keeps its median. The
 * objects are created by POST (the lower bound), or with `verb: "apply"` by server-side apply as the operator sends
 * them (PATCH with an apply patch, forced): the difference is what server-side apply costs the apiserver.
 */
import { randomBytes } from "node:crypto"
import { type ConvexInstance, decodeConvexInstance, renderInstance } from "@convex-operator/core"
import { Either } from "effect"
import { instanceName, instanceSpec } from "./fleet.js"
import { type Api, forEachLimited, type Json, sleep } from "./kube.js"
import { percentile } from "./stats.js"

const hex = (bytes: number) => randomBytes(bytes).toString("hex")
const base64 = (text: string) => Buffer.from(text).toString("base64")

const paths: Record<string, string> = {
  ConvexInstance: "apis/convex.icod.de/v1alpha1/namespaces/NS/convexinstances",
  StatefulSet: "apis/apps/v1/namespaces/NS/statefulsets",
  Deployment: "apis/apps/v1/namespaces/NS/deployments",
  Service: "api/v1/namespaces/NS/services",
  ConfigMap: "api/v1/namespaces/NS/configmaps",
  Secret: "api/v1/namespaces/NS/secrets",
  HTTPRoute: "apis/gateway.networking.k8s.io/v1/namespaces/NS/httproutes"
}

const instanceObject = (name: string, namespace: string) => ({
  apiVersion: "convex.icod.de/v1alpha1",
  kind: "ConvexInstance",
  metadata: { name, namespace },
  spec: instanceSpec(name)
})

/** As the floor creates it: see the module comment. */
const forFloor = (object: Json): Json => {
  const { ownerReferences: _owners, ...metadata } = object.metadata
  const labels = { ...(metadata.labels ?? {}) }
  delete labels["app.kubernetes.io/managed-by"]
  const copy: Json = { ...object, metadata: { ...metadata, labels } }
  if (copy.kind === "StatefulSet" || copy.kind === "Deployment") copy.spec = { ...copy.spec, replicas: 0 }
  if (copy.kind === "Secret" && copy.stringData !== undefined) {
    const { stringData: _placeholders, ...rest } = copy
    // INSTANCE_SECRET is 64 hex characters; an admin key is the instance's name, a bar and a longer hex string.
    return {
      ...rest,
      data: {
        "instance-secret": base64(hex(32)),
        "admin-key": base64(`${metadata.name}|${hex(64)}`)
      }
    }
  }
  return copy
}

/** The floor's objects in `namespace`, each with the path it is created at: instances first, then their children. */
export const floorObjects = (n: number, namespace: string): ReadonlyArray<readonly [string, Json]> => {
  const objects: Array<readonly [string, Json]> = []
  for (let index = 0; index < n; index++) {
    const raw = instanceObject(instanceName(index), namespace)
    const decoded = decodeConvexInstance(raw)
    if (Either.isLeft(decoded)) throw new Error(`floor: the bench's instance does not decode: ${decoded.left}`)
    const instance: ConvexInstance = decoded.right
    objects.push([raw.kind, raw])
    for (const child of renderInstance(instance, { operatorImage: "convex-operator:bench" }) as ReadonlyArray<Json>) {
      objects.push([child.kind, forFloor(child)])
    }
  }
  return objects.map(([kind, object]) => {
    const path = paths[kind]
    if (path === undefined) throw new Error(`floor: no path for ${kind}`)
    return [`/${path.replace("NS", namespace)}`, object] as const
  })
}

const createNamespace = async (api: Api, name: string) => {
  const response = await api.call("POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name }
  })
  if (response.status !== 201) throw new Error(`floor: creating namespace ${name}: ${response.status}`)
}

/** Deletes the namespace and waits until the namespace controller has removed it and everything in it. */
const deleteNamespace = async (api: Api, name: string, timeoutMillis: number) => {
  await api.call("DELETE", `/api/v1/namespaces/${name}`)
  const deadline = Date.now() + timeoutMillis
  while ((await api.call("GET", `/api/v1/namespaces/${name}`)).status !== 404) {
    if (Date.now() > deadline) throw new Error(`floor: namespace ${name} still there after ${timeoutMillis / 1000} s`)
    await sleep(500)
  }
}

/** How the floor creates its objects: a create (POST), or a server-side apply (PATCH, as the operator does). */
export type FloorVerb = "create" | "apply"

const send = (api: Api, verb: FloorVerb, path: string, object: Json) =>
  verb === "create"
    ? api.call("POST", path, object)
    : api.call(
        "PATCH",
        `${path}/${object.metadata.name}?fieldManager=bench-floor&force=true`,
        object,
        "application/apply-patch+yaml"
      )

/** One run: every object created into a fresh namespace; its wall time. The namespace is gone on return. */
const floorRun = async (api: Api, n: number, namespace: string, concurrency: number, verb: FloorVerb) => {
  await createNamespace(api, namespace)
  const objects = floorObjects(n, namespace)
  const started = Date.now()
  await forEachLimited(objects, concurrency, async ([path, object]) => {
    const response = await send(api, verb, path, object)
    if (response.status !== 201) {
      throw new Error(
        `floor: creating ${object.kind} ${object.metadata.name}: ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`
      )
    }
  })
  const wallMillis = Date.now() - started
  await deleteNamespace(api, namespace, Math.max(300_000, n * 600))
  return { objects: objects.length, wallMillis }
}

export interface FloorRuns {
  readonly verb: FloorVerb
  /** Objects per run: the instances and their children. */
  readonly objects: number
  readonly wallMillis: ReadonlyArray<number>
  readonly median: number
}

/** `runs` floor runs one after another (namespaces `bench-floor-<label>-<k>`). */
export const measureFloor = async (
  api: Api,
  options: {
    readonly n: number
    readonly concurrency: number
    readonly runs: number
    readonly label: string
    readonly verb: FloorVerb
  }
): Promise<FloorRuns> => {
  const wallMillis: Array<number> = []
  let objects = 0
  for (let run = 1; run <= options.runs; run++) {
    const namespace = `bench-floor-${options.label}-${run}`
    const result = await floorRun(api, options.n, namespace, options.concurrency, options.verb)
    objects = result.objects
    wallMillis.push(result.wallMillis)
  }
  return { verb: options.verb, objects, wallMillis, median: percentile(wallMillis, 50) ?? Number.NaN }
}
