/** The KubeClient contract suite (packages/k8s/test/contract) against a real apiserver, etcd and garbage collector. */
import { layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ContractHarness } from "../../../packages/k8s/test/contract/harness.js"
import { contractSuite } from "../../../packages/k8s/test/contract/suite.js"
import { LocalCluster } from "../../cluster/local-cluster.js"
import { clusterLayerOptions } from "../support.js"
import { compactEtcd, gizmoCrd, liveClient } from "./support.js"

const harness = Layer.effect(
  ContractHarness,
  Effect.map(LocalCluster, (cluster) => ({ compact: Effect.asVoid(compactEtcd(cluster.etcdUrl)), name: "apiserver" }))
)

// "full": the garbage collector runs in kube-controller-manager.
const cluster = LocalCluster.layer({ components: "full", crds: [gizmoCrd] })

layer(Layer.provideMerge(Layer.merge(harness, liveClient()), cluster), clusterLayerOptions)(
  "KubeClient contract (real apiserver)",
  (it) => contractSuite(it)
)
