/**
 * The in-memory apiserver denying permissions as RBAC does (`MemoryApiServer.forbid`), for tests of how a
 * controller reports a missing permission.
 */
import { KubeClient, type KubeObject, MemoryApiServer, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"

const service = (name: string, port = 80): KubeObject =>
  ({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "a" },
    spec: { ports: [{ port }] }
  }) as unknown as KubeObject

const apply = (object: KubeObject) =>
  Effect.flatMap(KubeClient, (kube) =>
    kube.apply(Resource.Service, object, { fieldManager: "test", force: true }).pipe(Effect.either)
  )

describe("MemoryApiServer.forbid", () => {
  it.effect("denies a verb on a resource with RBAC's Forbidden message, in one namespace or all", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* MemoryApiServer
      yield* apply(service("web"))
      yield* memory.forbid([{ verb: "patch", resource: "services", namespace: "a" }])

      const denied = yield* apply(service("web", 81))
      expect(denied._tag).toBe("Left")
      if (denied._tag === "Left") {
        expect(denied.left).toMatchObject({
          _tag: "Forbidden",
          code: 403,
          message:
            'services "web" is forbidden: User "system:serviceaccount:memory:test" cannot patch resource "services" in API group "" in the namespace "a"'
        })
      }
      // Reads are still allowed, and the denied write changed nothing.
      const stored = yield* kube.get(Resource.Service, "web", { namespace: "a" })
      expect((stored as unknown as { spec: { ports: Array<{ port: number }> } }).spec.ports[0]?.port).toBe(80)
      // Another namespace is not affected.
      const elsewhere = yield* kube
        .apply(Resource.Service, { ...service("web", 82), metadata: { name: "web", namespace: "b" } } as KubeObject, {
          fieldManager: "test",
          force: true
        })
        .pipe(Effect.either)
      expect(elsewhere._tag).toBe("Right")

      // Allowing everything again.
      yield* memory.forbid([])
      expect((yield* apply(service("web", 81)))._tag).toBe("Right")
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.effect("server-side apply of an absent object needs create as well as patch", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryApiServer
      yield* apply(service("existing"))
      yield* memory.forbid([{ verb: "create", resource: "services" }])
      expect((yield* apply(service("existing", 81)))._tag).toBe("Right")
      const absent = yield* apply(service("new"))
      expect(absent._tag === "Left" ? absent.left : undefined).toMatchObject({
        _tag: "Forbidden",
        message:
          'services "new" is forbidden: User "system:serviceaccount:memory:test" cannot create resource "services" in API group "" in the namespace "a"'
      })
      yield* memory.forbid([{ verb: "create", resource: "services", namespace: "b" }])
      expect((yield* apply(service("new")))._tag).toBe("Right")
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.effect("names a subresource and the cluster scope, and covers get, list, watch and delete", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* MemoryApiServer
      yield* apply(service("web"))
      yield* memory.forbid([
        { verb: "patch", resource: "services/status" },
        { verb: "get", resource: "services" },
        { verb: "list", resource: "services" },
        { verb: "delete", resource: "services" }
      ])
      const status = yield* kube
        .patchStatus(Resource.Service, "web", { loadBalancer: {} }, { namespace: "a" })
        .pipe(Effect.flip)
      expect(status.message).toContain('cannot patch resource "services/status"')
      expect((yield* kube.get(Resource.Service, "web", { namespace: "a" }).pipe(Effect.flip))._tag).toBe("Forbidden")
      const list = yield* kube.list(Resource.Service).pipe(Effect.flip)
      expect(list.message).toBe(
        'services is forbidden: User "system:serviceaccount:memory:test" cannot list resource "services" in API group "" at the cluster scope'
      )
      expect((yield* kube.delete(Resource.Service, "web", { namespace: "a" }).pipe(Effect.flip))._tag).toBe("Forbidden")
      // Applying the object itself is still allowed.
      expect((yield* apply(service("web", 81)))._tag).toBe("Right")
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )
})
