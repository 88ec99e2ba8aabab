/**
 * The KubeClient contract: one suite, run against the in-memory apiserver (packages/k8s/test) and a
 * real kube-apiserver + etcd + controller-manager (test/integration/k8s). Every expectation here is
 * one the real apiserver meets; the memory layer must meet it too.
 */
import { expect, type Vitest } from "@effect/vitest"
import { Chunk, Effect, Option, Stream } from "effect"
import { KubeClient, type KubeObject, Resource } from "../../src/index.js"
import { ContractHarness, eventually, Gizmo, uniqueName } from "./harness.js"

type It = Vitest.MethodsNonLive<KubeClient | ContractHarness, true>

const ns = "default"
const gizmo = (name: string, spec: unknown, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: Gizmo.apiVersion,
  kind: Gizmo.kind,
  metadata: { name, namespace: ns, ...extra },
  spec
})
const configMap = (name: string, data: Record<string, string>, meta: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: ns, ...meta },
  data
})

const flip = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.flip(effect)

export const contractSuite = (it: It) => {
  it.effect("create, get, and AlreadyExists on a second create", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const name = uniqueName("g")
      const created = yield* kube.create(Gizmo, gizmo(name, { size: 1 }))
      expect(created.metadata.uid).toBeTypeOf("string")
      expect(created.metadata.resourceVersion).toMatch(/^\d+$/)
      expect(created.metadata.generation).toBe(1)
      expect(created.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
      const read = yield* kube.get(Gizmo, name, { namespace: ns })
      expect(read.spec).toEqual({ size: 1 })
      expect(read.metadata.resourceVersion).toBe(created.metadata.resourceVersion)
      const again = yield* flip(kube.create(Gizmo, gizmo(name, { size: 2 })))
      expect(again._tag).toBe("Conflict")
      if (again._tag === "Conflict") expect(again.reason).toBe("AlreadyExists")
    })
  )

  it.effect("NotFound for a missing object; Invalid names the field", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const missing = yield* flip(kube.get(Resource.ConfigMap, uniqueName("nope"), { namespace: ns }))
      expect(missing._tag).toBe("NotFound")
      const invalid = yield* flip(kube.create(Resource.ConfigMap, configMap("Not_A_Name", {})))
      expect(invalid._tag).toBe("Invalid")
      if (invalid._tag === "Invalid") {
        expect(invalid.code).toBe(422)
        expect(invalid.causes.map((c) => c.field)).toContain("metadata.name")
      }
    })
  )

  it.effect("generateName makes a name with the prefix", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const created = yield* kube.create(Resource.ConfigMap, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { generateName: "gen-", namespace: ns }
      })
      expect(created.metadata.name).toMatch(/^gen-[a-z0-9]{5}$/)
    })
  )

  it.effect("replace: optimistic concurrency; generation follows the spec only", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const name = uniqueName("g")
      const v1 = yield* kube.create(Gizmo, gizmo(name, { size: 1 }))
      const labelled = yield* kube.replace(Gizmo, { ...v1, metadata: { ...v1.metadata, labels: { a: "b" } } })
      expect(labelled.metadata.generation).toBe(1)
      expect(Number(labelled.metadata.resourceVersion)).toBeGreaterThan(Number(v1.metadata.resourceVersion))
      const stale = yield* flip(kube.replace(Gizmo, { ...v1, spec: { size: 5 } }))
      expect(stale._tag).toBe("Conflict")
      const v3 = yield* kube.replace(Gizmo, { ...labelled, spec: { size: 5 } })
      expect(v3.metadata.generation).toBe(2)
      expect(v3.metadata.labels).toEqual({ a: "b" })
      // Same content: no write, same resourceVersion.
      const same = yield* kube.replace(Gizmo, v3)
      expect(same.metadata.resourceVersion).toBe(v3.metadata.resourceVersion)
    })
  )

  it.effect("status subresource: status only through /status, which leaves generation alone", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const name = uniqueName("g")
      const created = yield* kube.create(Gizmo, { ...gizmo(name, { size: 1 }), status: { phase: "Bogus" } })
      expect(created.status).toBeUndefined()
      const patched = yield* kube.patchStatus(Gizmo, name, { phase: "Ready", observedGeneration: 1 }, { namespace: ns })
      expect(patched.status).toEqual({ phase: "Ready", observedGeneration: 1 })
      expect(patched.metadata.generation).toBe(1)
      // The main resource ignores status.
      const replaced = yield* kube.replace(Gizmo, { ...patched, spec: { size: 2 }, status: { phase: "Lost" } })
      expect(replaced.status).toEqual({ phase: "Ready", observedGeneration: 1 })
      expect(replaced.metadata.generation).toBe(2)
      // /status ignores spec.
      const viaStatus = yield* kube.replace(
        Gizmo,
        { ...replaced, spec: { size: 99 }, status: { phase: "Done" } },
        { subresource: "status" }
      )
      expect(viaStatus.spec).toEqual({ size: 2 })
      expect(viaStatus.status).toEqual({ phase: "Done" })
      // A stale resourceVersion precondition on patchStatus.
      const stale = yield* flip(
        kube.patchStatus(
          Gizmo,
          name,
          { phase: "X" },
          { namespace: ns, resourceVersion: created.metadata.resourceVersion! }
        )
      )
      expect(stale._tag).toBe("Conflict")
    })
  )

  it.effect("server-side apply: create, no-op, field removal, status", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const name = uniqueName("g")
      const manager = { fieldManager: "contract-a", force: true }
      const first = yield* kube.apply(Gizmo, gizmo(name, { size: 1, color: "red" }, { labels: { x: "1" } }), manager)
      expect(first.spec).toEqual({ size: 1, color: "red" })
      expect(first.metadata.generation).toBe(1)
      expect(
        (first.metadata.managedFields as ReadonlyArray<{ manager: string; operation: string }>).some(
          (m) => m.manager === "contract-a" && m.operation === "Apply"
        )
      ).toBe(true)
      const noop = yield* kube.apply(Gizmo, gizmo(name, { size: 1, color: "red" }, { labels: { x: "1" } }), manager)
      expect(noop.metadata.resourceVersion).toBe(first.metadata.resourceVersion)
      const second = yield* kube.apply(Gizmo, gizmo(name, { size: 2 }), manager)
      expect(second.spec).toEqual({ size: 2 })
      expect(second.metadata.labels ?? {}).toEqual({})
      expect(second.metadata.generation).toBe(2)
      const status = yield* kube.apply(
        Gizmo,
        { apiVersion: Gizmo.apiVersion, kind: Gizmo.kind, metadata: { name, namespace: ns }, status: { phase: "Up" } },
        { ...manager, subresource: "status" }
      )
      expect(status.status).toEqual({ phase: "Up" })
      expect(status.spec).toEqual({ size: 2 })
      // Applying the object again (without status) keeps the status.
      const after = yield* kube.apply(Gizmo, gizmo(name, { size: 3 }), manager)
      expect(after.status).toEqual({ phase: "Up" })
    })
  )

  it.effect("server-side apply: conflicts between managers, and force", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const name = uniqueName("cm")
      yield* kube.create(Resource.ConfigMap, configMap(name, { owner: "one", shared: "s" }), {
        fieldManager: "creator"
      })
      // Same value: shared ownership, no conflict.
      yield* kube.apply(Resource.ConfigMap, configMap(name, { shared: "s" }), { fieldManager: "contract-b" })
      const conflict = yield* flip(
        kube.apply(Resource.ConfigMap, configMap(name, { owner: "two" }), { fieldManager: "contract-b" })
      )
      expect(conflict._tag).toBe("Conflict")
      if (conflict._tag === "Conflict") {
        expect(conflict.reason).toBe("Conflict")
        expect(conflict.message).toContain("creator")
        expect(conflict.causes.map((c) => c.field)).toContain(".data.owner")
      }
      const forced = yield* kube.apply(Resource.ConfigMap, configMap(name, { owner: "two" }), {
        fieldManager: "contract-b",
        force: true
      })
      expect(forced.data).toEqual({ owner: "two", shared: "s" })
      // contract-b stops applying `shared`: the creator still owns it, so it stays.
      const dropped = yield* kube.apply(Resource.ConfigMap, configMap(name, { owner: "two" }), {
        fieldManager: "contract-b"
      })
      expect(dropped.data).toEqual({ owner: "two", shared: "s" })
    })
  )

  it.effect("merge patch and JSON patch", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const name = uniqueName("cm")
      yield* kube.create(Resource.ConfigMap, configMap(name, { a: "1", b: "2" }))
      const merged = yield* kube.patch(
        Resource.ConfigMap,
        name,
        { data: { a: null, c: "3" } },
        { namespace: ns, type: "merge" }
      )
      expect(merged.data).toEqual({ b: "2", c: "3" })
      const patched = yield* kube.patch(
        Resource.ConfigMap,
        name,
        [
          { op: "test", path: "/data/b", value: "2" },
          { op: "replace", path: "/data/b", value: "two" }
        ],
        { namespace: ns, type: "json" }
      )
      expect(patched.data).toEqual({ b: "two", c: "3" })
      const failed = yield* flip(
        kube.patch(Resource.ConfigMap, name, [{ op: "test", path: "/data/b", value: "nope" }], {
          namespace: ns,
          type: "json"
        })
      )
      expect(failed._tag).toBe("Invalid")
    })
  )

  it.effect("list: label and field selectors, pagination", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const run = uniqueName("run")
      const names = ["a", "b", "c", "d", "e"].map((s) => `${run}-${s}`)
      yield* Effect.forEach(names, (name, i) =>
        kube.create(Resource.ConfigMap, configMap(name, {}, { labels: { run, parity: i % 2 === 0 ? "even" : "odd" } }))
      )
      const even = yield* kube.list(Resource.ConfigMap, { namespace: ns, labelSelector: `run=${run},parity=even` })
      expect(even.items.map((o) => o.metadata.name)).toEqual([names[0], names[2], names[4]])
      expect(even.items[0]?.kind).toBe("ConfigMap")
      const notOdd = yield* kube.list(Resource.ConfigMap, {
        namespace: ns,
        labelSelector: `run=${run},parity notin (odd)`
      })
      expect(notOdd.items).toHaveLength(3)
      const byName = yield* kube.list(Resource.ConfigMap, {
        namespace: ns,
        labelSelector: `run=${run}`,
        fieldSelector: `metadata.name=${names[1]}`
      })
      expect(byName.items.map((o) => o.metadata.name)).toEqual([names[1]])
      const page1 = yield* kube.list(Resource.ConfigMap, { namespace: ns, labelSelector: `run=${run}`, limit: 2 })
      expect(page1.items).toHaveLength(2)
      expect(page1.continue).toBeTypeOf("string")
      const page2 = yield* kube.list(Resource.ConfigMap, {
        namespace: ns,
        labelSelector: `run=${run}`,
        limit: 2,
        continue: page1.continue!
      })
      expect(page2.items.map((o) => o.metadata.name)).toEqual([names[2], names[3]])
      const all = yield* kube.listAll(Resource.ConfigMap, { namespace: ns, labelSelector: `run=${run}`, pageSize: 2 })
      expect(all.items.map((o) => o.metadata.name)).toEqual(names)
      expect(all.resourceVersion).toMatch(/^\d+$/)
    })
  )

  it.effect("delete: preconditions, finalizers and deletionTimestamp", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const name = uniqueName("g")
      const created = yield* kube.create(
        Gizmo,
        gizmo(name, { size: 1 }, { finalizers: ["k8s.convex-operator.test/hold"] })
      )
      const wrongUid = yield* flip(
        kube.delete(Gizmo, name, { namespace: ns, preconditions: { uid: "00000000-0000-0000-0000-000000000000" } })
      )
      expect(wrongUid._tag).toBe("Conflict")
      const wrongRv = yield* flip(kube.delete(Gizmo, name, { namespace: ns, preconditions: { resourceVersion: "1" } }))
      expect(wrongRv._tag).toBe("Conflict")
      yield* kube.delete(Gizmo, name, { namespace: ns, preconditions: { uid: created.metadata.uid! } })
      const deleting = yield* kube.get(Gizmo, name, { namespace: ns })
      expect(deleting.metadata.deletionTimestamp).toBeTypeOf("string")
      expect(deleting.metadata.finalizers).toEqual(["k8s.convex-operator.test/hold"])
      const added = yield* flip(
        kube.patch(
          Gizmo,
          name,
          { metadata: { finalizers: ["k8s.convex-operator.test/hold", "another/one"] } },
          {
            namespace: ns,
            type: "merge"
          }
        )
      )
      expect(added._tag).toBe("Invalid")
      yield* kube.patch(Gizmo, name, { metadata: { finalizers: null } }, { namespace: ns, type: "merge" })
      const gone = yield* flip(kube.get(Gizmo, name, { namespace: ns }))
      expect(gone._tag).toBe("NotFound")
      const again = yield* flip(kube.delete(Gizmo, name, { namespace: ns }))
      expect(again._tag).toBe("NotFound")
    })
  )

  it.effect("garbage collection: Background deletes dependents, Orphan keeps them", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const owner = yield* kube.create(Resource.ConfigMap, configMap(uniqueName("owner"), {}))
      const ref = Resource.ownerReference(owner)
      const child = yield* kube.create(
        Resource.ConfigMap,
        configMap(uniqueName("child"), {}, { ownerReferences: [ref] })
      )
      yield* kube.delete(Resource.ConfigMap, owner.metadata.name!, { namespace: ns })
      yield* eventually(
        flip(kube.get(Resource.ConfigMap, child.metadata.name!, { namespace: ns })).pipe(
          Effect.filterOrFail((e) => e._tag === "NotFound")
        )
      )
      const owner2 = yield* kube.create(Resource.ConfigMap, configMap(uniqueName("owner"), {}))
      const child2 = yield* kube.create(
        Resource.ConfigMap,
        configMap(uniqueName("child"), {}, { ownerReferences: [Resource.ownerReference(owner2)] })
      )
      yield* kube.delete(Resource.ConfigMap, owner2.metadata.name!, { namespace: ns, propagationPolicy: "Orphan" })
      yield* eventually(
        flip(kube.get(Resource.ConfigMap, owner2.metadata.name!, { namespace: ns })).pipe(
          Effect.filterOrFail((e) => e._tag === "NotFound")
        )
      )
      const orphan = yield* kube.get(Resource.ConfigMap, child2.metadata.name!, { namespace: ns })
      expect(orphan.metadata.ownerReferences ?? []).toEqual([])
    })
  )

  it.effect("garbage collection: Foreground removes dependents before the owner", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const owner = yield* kube.create(Resource.ConfigMap, configMap(uniqueName("owner"), {}))
      const child = yield* kube.create(
        Resource.ConfigMap,
        configMap(uniqueName("child"), {}, { ownerReferences: [Resource.ownerReference(owner)] })
      )
      yield* kube.delete(Resource.ConfigMap, owner.metadata.name!, { namespace: ns, propagationPolicy: "Foreground" })
      yield* eventually(
        flip(kube.get(Resource.ConfigMap, owner.metadata.name!, { namespace: ns })).pipe(
          Effect.filterOrFail((e) => e._tag === "NotFound")
        )
      )
      const childGone = yield* flip(kube.get(Resource.ConfigMap, child.metadata.name!, { namespace: ns }))
      expect(childGone._tag).toBe("NotFound")
    })
  )

  it.effect("watch: from a list's resourceVersion, in order, with selector transitions", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const run = uniqueName("run")
      const name = `${run}-w`
      const listed = yield* kube.list(Resource.ConfigMap, { namespace: ns, labelSelector: `run=${run}` })
      const events = yield* kube
        .watch(Resource.ConfigMap, {
          namespace: ns,
          labelSelector: `run=${run}`,
          resourceVersion: listed.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: 30
        })
        .pipe(
          Stream.filter((e) => e.type !== "BOOKMARK"),
          Stream.take(4),
          Stream.runCollect,
          Effect.fork
        )
      yield* kube.create(Resource.ConfigMap, configMap(name, { v: "1" }, { labels: { run } }))
      yield* kube.patch(Resource.ConfigMap, name, { data: { v: "2" } }, { namespace: ns, type: "merge" })
      // Leaving the selector looks like a deletion to this watch; coming back, like an addition.
      yield* kube.patch(
        Resource.ConfigMap,
        name,
        { metadata: { labels: { run: "elsewhere" } } },
        { namespace: ns, type: "merge" }
      )
      yield* kube.patch(Resource.ConfigMap, name, { metadata: { labels: { run } } }, { namespace: ns, type: "merge" })
      const collected = Chunk.toReadonlyArray(yield* events.await.pipe(Effect.flatten, Effect.timeout("20 seconds")))
      expect(collected.map((e) => e.type)).toEqual(["ADDED", "MODIFIED", "DELETED", "ADDED"])
      const modified = collected[1]
      expect(modified?.type === "MODIFIED" ? modified.object.data : undefined).toEqual({ v: "2" })
    })
  )

  it.effect("list and watch by name (field selector metadata.name): only that object, its deletion included", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const run = uniqueName("byname")
      const name = `${run}-x`
      const byName = { namespace: ns, fieldSelector: `metadata.name=${name}` }
      // Not there yet: an empty list with a resourceVersion to watch from.
      const listed = yield* kube.list(Resource.ConfigMap, byName)
      expect(listed.items).toEqual([])
      const events = yield* kube
        .watch(Resource.ConfigMap, {
          ...byName,
          resourceVersion: listed.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: 30
        })
        .pipe(
          Stream.filter((e) => e.type !== "BOOKMARK"),
          Stream.take(3),
          Stream.runCollect,
          Effect.fork
        )
      yield* kube.create(Resource.ConfigMap, configMap(`${run}-other`, { v: "0" }))
      yield* kube.create(Resource.ConfigMap, configMap(name, { v: "1" }))
      yield* kube.patch(Resource.ConfigMap, `${run}-other`, { data: { v: "1" } }, { namespace: ns, type: "merge" })
      yield* kube.patch(Resource.ConfigMap, name, { data: { v: "2" } }, { namespace: ns, type: "merge" })
      yield* kube.delete(Resource.ConfigMap, `${run}-other`, { namespace: ns })
      yield* kube.delete(Resource.ConfigMap, name, { namespace: ns })
      const collected = Chunk.toReadonlyArray(yield* events.await.pipe(Effect.flatten, Effect.timeout("20 seconds")))
      expect(collected.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
        `ADDED ${name}`,
        `MODIFIED ${name}`,
        `DELETED ${name}`
      ])
      const again = yield* kube.list(Resource.ConfigMap, byName)
      expect(again.items).toEqual([])
    })
  )

  it.effect("watch without a resourceVersion starts with the current objects as ADDED", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const run = uniqueName("run")
      yield* kube.create(Resource.ConfigMap, configMap(`${run}-a`, {}, { labels: { run } }))
      const first = yield* kube
        .watch(Resource.ConfigMap, { namespace: ns, labelSelector: `run=${run}`, timeoutSeconds: 10 })
        .pipe(Stream.runHead, Effect.timeout("20 seconds"))
      expect(Option.map(first, (e) => e.type)).toEqual(Option.some("ADDED"))
    })
  )
}

/**
 * History and 410 Gone. A caching apiserver (the default, with its watch cache) serves recent
 * versions from memory even after etcd compaction, so this part runs against an apiserver started
 * with `--watch-cache=false` (every read and watch goes to etcd), and against the memory layer.
 */
export const compactionSuite = (it: It) => {
  it.effect("a continue token from before a compaction is Gone", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const harness = yield* ContractHarness
      const run = uniqueName("run")
      yield* Effect.forEach(["a", "b", "c"], (s) =>
        kube.create(Resource.ConfigMap, configMap(`${run}-${s}`, {}, { labels: { run } }))
      )
      const page1 = yield* kube.list(Resource.ConfigMap, { namespace: ns, labelSelector: `run=${run}`, limit: 1 })
      // A write after the list, so the compaction covers the list's version.
      yield* kube.create(Resource.ConfigMap, configMap(`${run}-z`, {}))
      yield* harness.compact
      const gone = yield* flip(
        kube.list(Resource.ConfigMap, {
          namespace: ns,
          labelSelector: `run=${run}`,
          limit: 1,
          continue: page1.continue!
        })
      )
      expect(gone._tag).toBe("Gone")
    })
  )

  it.effect("watch from a compacted resourceVersion is Gone", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const harness = yield* ContractHarness
      const run = uniqueName("run")
      const name = `${run}-c`
      const created = yield* kube.create(Resource.ConfigMap, configMap(name, { v: "0" }, { labels: { run } }))
      for (let i = 1; i <= 3; i++) {
        yield* kube.patch(Resource.ConfigMap, name, { data: { v: String(i) } }, { namespace: ns, type: "merge" })
      }
      yield* harness.compact
      const result = yield* kube
        .watch(Resource.ConfigMap, {
          namespace: ns,
          labelSelector: `run=${run}`,
          resourceVersion: String(Number(created.metadata.resourceVersion) - 1),
          timeoutSeconds: 5
        })
        .pipe(Stream.runCollect, Effect.either, Effect.timeout("20 seconds"))
      expect(result._tag === "Left" ? result.left._tag : "no error").toBe("Gone")
    })
  )
}
