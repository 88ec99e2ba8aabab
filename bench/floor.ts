/**
 * The floor: the same objects the operator made for the fleet (copied from the cluster, stripped of what the
 * apiserver assigns, without owner references and the managed-by label so no controller of ours looks at them),
 * created straight against the apiserver by the minimal client into another namespace. Its wall time is the lower
 * bound for "every child exists" on this machine.
 */
import { childLists, managedSelector, namespace } from "./fleet.js"
import { type Api, forEachLimited, type Json } from "./kube.js"

export const floorNamespace = "bench-floor"

const strip = (object: Json): Json => {
  const {
    ownerReferences: _owners,
    managedFields: _fields,
    uid: _uid,
    resourceVersion: _rv,
    ...metadata
  } = object.metadata
  const { creationTimestamp: _created, generation: _generation, ...kept } = metadata
  const labels = { ...(kept.labels ?? {}) }
  delete labels["app.kubernetes.io/managed-by"]
  const copy: Json = { ...object, metadata: { ...kept, labels, namespace: floorNamespace } }
  delete copy.status
  if (object.kind === "Service") {
    const { clusterIP: _ip, clusterIPs: _ips, ...spec } = object.spec
    copy.spec = spec
  }
  return copy
}

export interface FloorResult {
  readonly objects: number
  readonly concurrency: number
  readonly wallMillis: number
}

export const measureFloor = async (api: Api, concurrency: number): Promise<FloorResult> => {
  const objects: Array<readonly [string, Json]> = []
  for (const [kind, path] of childLists) {
    for (const item of await api.list(`${path}?${managedSelector}`)) {
      objects.push([
        path.replace(`/namespaces/${namespace}/`, `/namespaces/${floorNamespace}/`),
        strip({ ...item, kind, apiVersion: apiVersionOf(path) })
      ])
    }
  }
  const started = Date.now()
  await forEachLimited(objects, concurrency, async ([path, object]) => {
    const response = await api.call("POST", path, object)
    if (response.status !== 201) {
      throw new Error(
        `floor: creating ${object.kind} ${object.metadata.name}: ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`
      )
    }
  })
  return { objects: objects.length, concurrency, wallMillis: Date.now() - started }
}

const apiVersionOf = (path: string) =>
  path.startsWith("/api/v1/") ? "v1" : path.slice("/apis/".length, path.indexOf("/namespaces/"))
