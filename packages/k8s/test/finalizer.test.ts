/** Finalizer.run against the memory apiserver: add, apply, clean up, remove only its own name, stale objects. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Ref } from "effect"
import { Action, Finalizer, KubeClient, type KubeObject, MemoryApiServer } from "../src/index.js"
import { Gizmo } from "./contract/harness.js"

const ns = "default"
const name = "k8s.convex-operator.test/cleanup"
const gizmo = (metadata: Partial<KubeObject["metadata"]> = {}): KubeObject => ({
  apiVersion: Gizmo.apiVersion,
  kind: Gizmo.kind,
  metadata: { name: "g", namespace: ns, ...metadata },
  spec: { paused: false }
})
const writes = (requests: ReadonlyArray<string>) =>
  requests.filter((r) => ["APPLY", "PATCH", "PUT", "DELETE", "POST"].some((verb) => r.startsWith(verb)))

/** Runs Finalizer.run on the object as the apiserver has it now, recording which handler ran with what. */
const runOnce = (
  options: { readonly addWhen?: (object: KubeObject) => boolean; readonly failCleanup?: boolean } = {}
) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const calls = yield* Ref.make<ReadonlyArray<string>>([])
    const object = yield* kube.get(Gizmo, "g", { namespace: ns })
    const result = yield* Finalizer.run(
      name,
      object,
      {
        apply: (o) =>
          Effect.as(
            Ref.update(calls, (c) => [...c, `apply finalizers=${(o.metadata.finalizers ?? []).join(",")}`]),
            Action.requeueAfter("1 minute")
          ),
        cleanup: (o) =>
          Effect.zipRight(
            Ref.update(calls, (c) => [...c, `cleanup finalizers=${(o.metadata.finalizers ?? []).join(",")}`]),
            options.failCleanup === true ? Effect.fail("cleanup failed" as const) : Effect.void
          )
      },
      {
        resource: Gizmo,
        fieldManager: "gizmo-controller",
        ...(options.addWhen === undefined ? {} : { addWhen: options.addWhen })
      }
    ).pipe(Effect.either)
    return { result, calls: yield* Ref.get(calls) }
  })

describe("Finalizer.run", () => {
  it.scoped("adds the missing finalizer, then applies the patched object; once it is there, only applies", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* MemoryApiServer
      yield* kube.create(Gizmo, gizmo({ finalizers: ["other/keep"] }))
      const first = yield* runOnce()
      expect(first.calls).toEqual([`apply finalizers=other/keep,${name}`])
      expect(first.result).toEqual(Either.right(Action.requeueAfter("1 minute")))
      expect(writes(yield* memory.requests)).toEqual(["POST gizmos default", "PATCH gizmos default/g"])
      expect((yield* kube.get(Gizmo, "g", { namespace: ns })).metadata.finalizers).toEqual(["other/keep", name])
      const second = yield* runOnce()
      expect(second.calls).toEqual([`apply finalizers=other/keep,${name}`])
      expect(writes(yield* memory.requests)).toHaveLength(2)
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.scoped("addWhen false: applies without adding the finalizer (and writes nothing)", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* MemoryApiServer
      yield* kube.create(Gizmo, gizmo())
      const { calls } = yield* runOnce({ addWhen: () => false })
      expect(calls).toEqual(["apply finalizers="])
      expect(writes(yield* memory.requests)).toEqual(["POST gizmos default"])
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.scoped("being deleted: cleans up, then removes only its own name; the object goes with the last finalizer", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      yield* kube.create(Gizmo, gizmo({ finalizers: [name, "other/keep"] }))
      yield* kube.delete(Gizmo, "g", { namespace: ns })
      // addWhen false does not stop a cleanup: a paused object is still finalized.
      const { calls, result } = yield* runOnce({ addWhen: () => false })
      expect(calls).toEqual([`cleanup finalizers=${name},other/keep`])
      expect(result).toEqual(Either.right(Action.awaitChange))
      const held = yield* kube.get(Gizmo, "g", { namespace: ns })
      expect(held.metadata.finalizers).toEqual(["other/keep"])
      expect(held.metadata.deletionTimestamp).toBeDefined()
      // Without the finalizer: nothing runs.
      expect((yield* runOnce()).calls).toEqual([])
      yield* kube.patch(Gizmo, "g", { metadata: { finalizers: [] } }, { namespace: ns, type: "merge" })
      // The last finalizer: removing it lets the object go.
      yield* kube.create(Gizmo, gizmo({ finalizers: [name] }))
      yield* kube.delete(Gizmo, "g", { namespace: ns })
      expect((yield* runOnce()).calls).toEqual([`cleanup finalizers=${name}`])
      expect(Either.isLeft(yield* Effect.either(kube.get(Gizmo, "g", { namespace: ns })))).toBe(true)
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.scoped("a failed cleanup keeps the finalizer and passes its error through", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      yield* kube.create(Gizmo, gizmo({ finalizers: [name] }))
      yield* kube.delete(Gizmo, "g", { namespace: ns })
      const { result } = yield* runOnce({ failCleanup: true })
      expect(result).toEqual(Either.left("cleanup failed"))
      expect((yield* kube.get(Gizmo, "g", { namespace: ns })).metadata.finalizers).toEqual([name])
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.scoped("a stale object: adding or removing fails with a stale FinalizerError and changes nothing", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const stale = yield* kube.create(Gizmo, gizmo())
      yield* kube.patch(Gizmo, "g", { metadata: { finalizers: ["other/keep"] } }, { namespace: ns, type: "merge" })
      const applied = yield* Ref.make(0)
      const handlers = {
        apply: () =>
          Effect.as(
            Ref.update(applied, (n) => n + 1),
            Action.awaitChange
          ),
        cleanup: () => Effect.void
      }
      const options = { resource: Gizmo, fieldManager: "gizmo-controller" }
      const add = yield* Effect.either(Finalizer.run(name, stale, handlers, options))
      expect(Either.isLeft(add) && add.left._tag === "FinalizerError" && add.left.stale).toBe(true)
      expect(Either.isLeft(add) && add.left.message).toContain(
        `adding the finalizer ${name} of Gizmo default/g: Conflict`
      )
      expect(yield* Ref.get(applied)).toBe(0)
      expect((yield* kube.get(Gizmo, "g", { namespace: ns })).metadata.finalizers).toEqual(["other/keep"])

      // Removing with a stale copy of a deleting object fails the same way; the finalizer stays.
      yield* kube.patch(
        Gizmo,
        "g",
        { metadata: { finalizers: ["other/keep", name] } },
        { namespace: ns, type: "merge" }
      )
      yield* kube.delete(Gizmo, "g", { namespace: ns })
      const deleting = yield* kube.get(Gizmo, "g", { namespace: ns })
      yield* kube.patch(Gizmo, "g", { metadata: { labels: { touched: "yes" } } }, { namespace: ns, type: "merge" })
      const remove = yield* Effect.either(Finalizer.run(name, deleting, handlers, options))
      expect(Either.isLeft(remove) && remove.left._tag === "FinalizerError" && remove.left.stale).toBe(true)
      expect((yield* kube.get(Gizmo, "g", { namespace: ns })).metadata.finalizers).toEqual(["other/keep", name])
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )
})
