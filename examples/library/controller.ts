/**
 * @convex-operator/k8s: a controller on the in-memory apiserver (`KubeClient.layerMemory`). Every ConfigMap
 * labelled `greeting: "true"` gets a `<name>-reply` ConfigMap; swap in `KubeClient.layerLive()` and the same
 * program runs against the cluster of your kubeconfig.
 */
import { Action, Controller, KubeClient, type KubeObject, Resource } from "@convex-operator/k8s"
import { Effect, Schedule } from "effect"

const reconcile = (configMap: KubeObject) =>
  Effect.gen(function* () {
    if (configMap.metadata.labels?.greeting !== "true") return Action.awaitChange
    const kube = yield* KubeClient
    const { name, namespace } = configMap.metadata
    const message = (configMap as { data?: Record<string, string> }).data?.message ?? ""
    yield* kube.apply(
      Resource.ConfigMap,
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `${name}-reply`, namespace, ownerReferences: [Resource.ownerReference(configMap)] },
        data: { message: `${message} back` }
      },
      { fieldManager: "greeter", force: true }
    )
    return Action.awaitChange
  })

const program = Effect.gen(function* () {
  const kube = yield* KubeClient
  // The controller watches ConfigMaps and reconciles each key, one at a time per key, until the scope closes.
  yield* Effect.forkScoped(Controller.run({ name: "greeter", resource: Resource.ConfigMap, reconcile }))
  yield* kube.create(Resource.ConfigMap, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "hello", namespace: "default", labels: { greeting: "true" } },
    data: { message: "hi" }
  })
  const reply = yield* kube
    .get(Resource.ConfigMap, "hello-reply", { namespace: "default" })
    .pipe(Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("10 seconds"))))
  console.log(`reply: ${(reply as { data?: Record<string, string> }).data?.message}`)
  console.log(`owned by: ${reply.metadata.ownerReferences?.[0]?.name}`)
}).pipe(Effect.scoped, Effect.provide(KubeClient.layerMemory()))

await Effect.runPromise(program)
