import { childNames, decide } from "@convex-operator/core"
import {
  isManagedChild,
  isSubset,
  labelValue,
  needsApply,
  quantityValue,
  snapshotArgs,
  snapshotExportArgs,
  snapshotImportArgs,
  standardLabels
} from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { entropy, find, minimal, now } from "../decide/support.js"

describe("names and labels", () => {
  it("keep the reference operator's names", () => {
    const names = childNames("x")
    expect([
      names.backend,
      names.dashboard,
      names.secrets,
      names.backendConfig,
      names.backendPvc,
      names.gateway
    ]).toEqual(["x-backend", "x-dashboard", "x-convex-secrets", "x-backend-config", "x-backend-pvc", "x-gateway"])
  })

  it("label every child with the app.kubernetes.io labels and an owner", () => {
    // A retained data claim has no owner (scenarios.test.ts): this one is deleted with the instance.
    const decision = decide(
      minimal({ networking: { host: "a.x.io" }, backend: { storage: { pvc: { deletionPolicy: "Delete" } } } }),
      { objects: [], entropy },
      now
    )
    for (const object of decision.desired) {
      expect(isManagedChild(object.metadata.labels, "demo")).toBe(true)
      expect(object.metadata.labels["app.kubernetes.io/name"]).toBe("convex")
      expect(object.metadata.namespace).toBe("convex")
      expect(object.metadata.ownerReferences?.[0]).toMatchObject({
        kind: "ConvexInstance",
        name: "demo",
        controller: true
      })
    }
  })

  it("cut versions to valid label values", () => {
    expect(labelValue("_x.")).toBe("x")
    expect(labelValue("a".repeat(70))).toHaveLength(63)
    expect(standardLabels("demo", "backend", "latest")["app.kubernetes.io/version"]).toBe("latest")
  })
})

describe("snapshot Jobs", () => {
  it("run the operator image's snapshot subcommand against the backend Service with the admin key", () => {
    const decision = decide(minimal(), { objects: [], entropy }, now, {
      operator: { image: "ghcr.io/example/convex-operator:1.0.0", command: ["/app/convex-operator"] }
    })
    expect(decision.desired.some((object) => object.kind === "Job")).toBe(false)
    const instance = { name: "demo", namespace: "convex" }
    expect(snapshotExportArgs("/backups/x.zip")).toEqual([
      "snapshot",
      "export",
      "--path",
      "/backups/x.zip",
      "--include-file-storage"
    ])
    expect(snapshotImportArgs("/backups/x.zip")).toContain("--replace-all")
    expect(snapshotArgs("SaveEnv", "abcdef0123456789ff", instance)).toEqual([
      "snapshot",
      "env-save",
      "--secret",
      "demo-env-abcdef0123",
      "--namespace",
      "convex"
    ])
    expect(snapshotArgs("RestoreEnv", "abcdef0123456789ff", instance).slice(0, 2)).toEqual(["snapshot", "env-restore"])
  })
})

describe("comparing rendered and observed objects", () => {
  it("ignores fields the apiserver adds and compares quantities as strings", () => {
    expect(isSubset({ a: 1, b: [{ c: "x" }] }, { a: "1", b: [{ c: "x", d: 2 }], e: 3 })).toBe(true)
    expect(isSubset({ b: [{ c: "x" }] }, { b: [{ c: "x" }, { c: "y" }] })).toBe(false)
    expect(isSubset({ a: { b: 1 } }, { a: null })).toBe(false)
    expect(needsApply({ a: 1 }, undefined)).toBe(true)
  })

  it("compares resource quantities by value, as the apiserver rewrites them", () => {
    const resources = (limits: Record<string, string | number>) => ({ resources: { limits, requests: limits } })
    expect(isSubset(resources({ cpu: "1000m", memory: "1024Mi" }), resources({ cpu: "1", memory: "1Gi" }))).toBe(true)
    expect(isSubset(resources({ cpu: 0.5, storage: "1e3" }), resources({ cpu: "500m", storage: "1k" }))).toBe(true)
    expect(isSubset(resources({ cpu: "1" }), resources({ cpu: "2" }))).toBe(false)
    // Only under limits and requests: elsewhere "1.0" is not "1".
    expect(isSubset({ version: "1.0" }, { version: "1" })).toBe(false)
    expect(quantityValue("2Gi")).toBe(2 ** 31)
    expect(quantityValue("abc")).toBeUndefined()
  })

  it("a rendered object is a subset of itself", () => {
    const decision = decide(minimal(), { objects: [], entropy }, now)
    for (const object of decision.desired) expect(needsApply(object, structuredClone(object))).toBe(false)
    expect(find(decision, "StatefulSet", "demo-backend").spec.replicas).toBe(1)
  })
})
