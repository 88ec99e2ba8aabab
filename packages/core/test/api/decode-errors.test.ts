import { decodeConvexInstance, decodeConvexInstanceSpec, type FieldIssue } from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"

const issuesOf = (spec: unknown): ReadonlyArray<FieldIssue> =>
  Either.match(decodeConvexInstanceSpec(spec), {
    onLeft: (error) => error.issues,
    onRight: () => []
  })

const base = { environment: "dev", version: "abc" }

describe("decoding errors name the field and the expected form", () => {
  it.each([
    [
      "a bad enum",
      { ...base, environment: "staging" },
      "spec.environment",
      /Expected "dev" or "prod", actual "staging"/
    ],
    ["an empty version", { ...base, version: "" }, "spec.version", /at least 1 character/],
    ["a missing version", { environment: "dev" }, "spec.version", /missing/],
    ["an unknown engine", { ...base, backend: { db: { engine: "oracle" } } }, "spec.backend.db.engine", /"postgres"/],
    [
      "a bad quantity",
      { ...base, backend: { resources: { limits: { cpu: "lots" } } } },
      "spec.backend.resources.limits.cpu",
      /quantity/
    ],
    [
      "a bad duration",
      { ...base, maintenance: { restartInterval: "1 week" } },
      "spec.maintenance.restartInterval",
      /duration/
    ],
    ["an upper-case host", { ...base, networking: { host: "Convex.Example.com" } }, "spec.networking.host", /DNS name/],
    ["an env var without name", { ...base, backend: { env: [{ value: "x" }] } }, "spec.backend.env[0].name", /missing/],
    [
      "zero dashboard replicas",
      { ...base, dashboard: { replicas: 0 } },
      "spec.dashboard.replicas",
      /greater than or equal to 1/
    ],
    ["a wrong type", { ...base, dashboard: { enabled: "yes" } }, "spec.dashboard.enabled", /boolean/],
    [
      "postgres without a Secret",
      { ...base, backend: { db: { engine: "postgres", urlKey: "url" } } },
      "spec.backend.db.secretRef",
      /secretRef is required/
    ],
    [
      "postgres without a key",
      { ...base, backend: { db: { engine: "mysql", secretRef: "db" } } },
      "spec.backend.db.urlKey",
      /urlKey is required/
    ],
    [
      "S3 without a Secret",
      { ...base, backend: { s3: { enabled: true } } },
      "spec.backend.s3.secretRef",
      /secretRef is required/
    ],
    [
      "a bucket twice",
      { ...base, backend: { s3: { bucket: "a", bucketKey: "b" } } },
      "spec.backend.s3.bucketKey",
      /not both/
    ],
    [
      "external storage with SQLite",
      { ...base, backend: { storage: { mode: "external" } } },
      "spec.backend.storage.mode",
      /postgres or mysql/
    ],
    [
      "exportImport with postgres (no fresh database without a new admin key)",
      {
        ...base,
        backend: { db: { engine: "postgres", secretRef: "db", urlKey: "url" } },
        maintenance: { upgradeStrategy: "exportImport" }
      },
      "spec.maintenance.upgradeStrategy",
      /INSTANCE_NAME.*admin key.*inPlace/
    ],
    [
      "the same host twice",
      { ...base, networking: { host: "a.example.com", dashboardHost: "a.example.com" } },
      "spec.networking.dashboardHost",
      /different hosts/
    ],
    [
      "parentRefs with an Ingress",
      { ...base, networking: { host: "a.io", mode: "ingress", parentRefs: [{ name: "gw" }] } },
      "spec.networking.parentRefs",
      /ingress/
    ]
  ])("%s", (_what, spec, path, message) => {
    const issues = issuesOf(spec)
    expect(issues.map((issue) => issue.path)).toContain(path)
    expect(issues.find((issue) => issue.path === path)?.message).toMatch(message)
  })

  it("reports every problem at once", () => {
    const paths = issuesOf({ environment: "qa", version: "", dashboard: { replicas: -1 } }).map((issue) => issue.path)
    expect(paths).toEqual(expect.arrayContaining(["spec.environment", "spec.version", "spec.dashboard.replicas"]))
  })

  it("the error message lists field paths", () => {
    const result = decodeConvexInstanceSpec({ ...base, environment: "qa" })
    expect(Either.isLeft(result) && result.left.message).toMatch(/^spec\.environment: /)
  })

  it("rejects instance names that cannot prefix a StatefulSet and Services", () => {
    const instance = (name: string) => ({
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexInstance",
      metadata: { name },
      spec: base
    })
    expect(Either.isRight(decodeConvexInstance(instance("convex-dev")))).toBe(true)
    for (const name of ["1convex", "convex.dev", "a".repeat(45)]) {
      const result = decodeConvexInstance(instance(name))
      expect(Either.isLeft(result) && result.left.issues.map((issue) => issue.path)).toEqual(["metadata.name"])
    }
  })
})
