/** Shared pieces of the @convex-operator/k8s real-apiserver tests. */
import { fileURLToPath } from "node:url"
import { KubeClient } from "@convex-operator/k8s"
import { Effect, Layer } from "effect"
import { LocalCluster } from "../../cluster/local-cluster.js"

export const gizmoCrd = fileURLToPath(new URL("./fixtures/gizmo-crd.yaml", import.meta.url))

/** A live KubeClient for the cluster of the current layer (its admin kubeconfig). */
export const liveClient = (options: { readonly server?: string } = {}) =>
  Layer.unwrapEffect(
    Effect.map(LocalCluster, (cluster) =>
      KubeClient.layerLive({
        source:
          options.server === undefined
            ? { _tag: "File", path: cluster.kubeconfigPath }
            : { _tag: "Explicit", server: options.server, ca: cluster.ca, cert: cluster.cert, key: cluster.key },
        rateLimit: false
      })
    )
  )

const etcd = (url: string, path: string, body: unknown) =>
  Effect.tryPromise(async () => {
    const response = await fetch(`${url}${path}`, { method: "POST", body: JSON.stringify(body) })
    const json = (await response.json()) as Record<string, unknown>
    if (!response.ok) throw new Error(`etcd ${path}: ${response.status} ${JSON.stringify(json)}`)
    return json
  })

/** etcd's current revision (= the apiserver's newest resourceVersion). */
export const etcdRevision = (etcdUrl: string) =>
  Effect.map(etcd(etcdUrl, "/v3/kv/range", { key: Buffer.from("/").toString("base64"), limit: 1 }), (json) =>
    Number((json.header as { revision: string }).revision)
  )

/** Compacts etcd's history up to its current revision: older resourceVersions now answer 410. */
export const compactEtcd = (etcdUrl: string) =>
  Effect.gen(function* () {
    const revision = yield* etcdRevision(etcdUrl)
    yield* etcd(etcdUrl, "/v3/kv/compaction", { revision: String(revision), physical: true })
    return revision
  })
