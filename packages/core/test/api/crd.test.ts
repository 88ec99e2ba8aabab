import { readFileSync } from "node:fs"
import { join } from "node:path"
import { convexInstanceCrd, type OpenApiSchema } from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { generatedFiles } from "../../../../scripts/generated-files.js"
import { repoRoot } from "../../../../test/support/manifests.js"

const root = convexInstanceCrd.spec.versions[0].schema.openAPIV3Schema
const spec = root.properties?.spec as OpenApiSchema
const at = (node: OpenApiSchema, ...path: ReadonlyArray<string>): OpenApiSchema =>
  path.reduce<OpenApiSchema>((current, key) => {
    const next = current.properties?.[key]
    if (next === undefined) throw new Error(`no property ${key} in ${path.join(".")}`)
    return next
  }, node)

/** Every node of a schema with its path. */
const nodes = function* (node: OpenApiSchema, path = ""): Generator<[string, OpenApiSchema]> {
  yield [path, node]
  for (const [key, child] of Object.entries(node.properties ?? {})) yield* nodes(child, `${path}.${key}`)
  if (node.items !== undefined) yield* nodes(node.items, `${path}[]`)
  if (typeof node.additionalProperties === "object") yield* nodes(node.additionalProperties, `${path}{}`)
}

describe("the ConvexInstance CRD", () => {
  it("the committed generated files match what the Schema generates (run `npm run generate`)", () => {
    for (const file of generatedFiles()) {
      expect(readFileSync(join(repoRoot, file.path), "utf8"), file.path).toBe(file.content)
    }
  })

  it("is structural: every node has a type (or is int-or-string), and there is no $ref", () => {
    expect(JSON.stringify(root)).not.toContain("$ref")
    for (const [path, node] of nodes(root)) {
      if (node["x-kubernetes-int-or-string"] === true) {
        expect(node.anyOf, path).toEqual([{ type: "integer" }, { type: "string" }])
      } else {
        expect(node.type, path).toBeDefined()
        expect(node.anyOf, path).toBeUndefined()
      }
    }
  })

  it("carries the Schema's defaults so the apiserver applies them", () => {
    expect(at(spec, "backend").default).toMatchObject({
      db: { engine: "sqlite", requireSSL: true },
      storage: { mode: "sqlite", pvc: { enabled: true, deletionPolicy: "Retain" }, acceptDataLoss: false }
    })
    expect(at(spec, "backend", "storage", "pvc", "enabled").default).toBe(true)
    expect(at(spec, "backend", "storage", "acceptDataLoss").default).toBe(false)
    expect(at(spec, "backend", "db", "engine").default).toBe("sqlite")
    expect(at(spec, "backend", "db", "requireSSL").default).toBe(true)
    expect(at(spec, "backend", "storage", "pvc", "deletionPolicy").default).toBe("Retain")
    expect(at(spec, "dashboard", "replicas").default).toBe(1)
    expect(at(spec, "maintenance", "restartInterval").default).toBe("168h")
    expect(at(spec, "networking", "gatewayClassName").default).toBe("nginx")
    expect(at(spec, "backend", "image").default).toBeUndefined()
  })

  it("has enums, patterns and list markers", () => {
    expect(at(spec, "environment").enum).toEqual(["dev", "prod"])
    expect(at(spec, "maintenance", "upgradeStrategy").enum).toEqual(["inPlace", "exportImport"])
    expect(at(spec, "networking", "host").pattern).toBeDefined()
    expect(at(spec, "maintenance", "restartInterval").pattern).toBeDefined()
    expect(at(spec, "backend", "resources", "limits").additionalProperties).toMatchObject({
      "x-kubernetes-int-or-string": true
    })
    const conditions = at(root, "status", "conditions")
    expect(conditions["x-kubernetes-list-type"]).toBe("map")
    expect(conditions["x-kubernetes-list-map-keys"]).toEqual(["type"])
    expect(at(spec, "dashboard", "replicas")).toMatchObject({ type: "integer", format: "int32", minimum: 1 })
  })

  it("states cross-field rules as CEL with a message and the field they concern", () => {
    const rules = [...nodes(root)].flatMap(([, node]) => node["x-kubernetes-validations"] ?? [])
    expect(rules.length).toBeGreaterThanOrEqual(10)
    for (const rule of rules) expect(rule.message.length).toBeGreaterThan(10)
    expect(at(spec, "backend", "db")["x-kubernetes-validations"]).toEqual(
      expect.arrayContaining([expect.objectContaining({ fieldPath: ".secretRef", reason: "FieldValueRequired" })])
    )
  })

  it("documents every Convex-specific field for kubectl explain", () => {
    const kubeTypes = /\.(resources|env|security|conditions)(\.|\[|$)/
    for (const [path, node] of nodes(root)) {
      if (path === "" || path.startsWith(".metadata") || kubeTypes.test(path) || /\[\]$|\{\}$/.test(path)) continue
      expect(node.description, path).toBeDefined()
    }
  })

  it("has the status subresource and printer columns", () => {
    const version = convexInstanceCrd.spec.versions[0]
    expect(version.subresources).toEqual({ status: {} })
    expect(version.additionalPrinterColumns.map((column) => column.name)).toEqual([
      "Ready",
      "Phase",
      "Version",
      "API URL",
      "Environment",
      "Age"
    ])
  })
})
