import { convexInstanceCrd, decodeConvexInstance } from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { convexInstances, refusedReference } from "../../../../test/support/manifests.js"

const examples = convexInstances("examples")
const all = convexInstances("test/fixtures/reference")
const reference = all.filter((m) => refusedReference[m.source] === undefined)
const refused = all.filter((m) => refusedReference[m.source] !== undefined)

describe("samples", () => {
  it("examples/ holds the documented samples", () => {
    expect(examples.map((m) => m.object.metadata)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "hello" }),
        expect.objectContaining({ name: "convex-dev" }),
        expect.objectContaining({ name: "convex-prod" }),
        expect.objectContaining({ name: "convex-obc" })
      ])
    )
  })

  it.each([...examples, ...reference].map((m) => [m.source, m] as const))("%s decodes", (_source, manifest) => {
    const decoded = decodeConvexInstance(manifest.object)
    if (Either.isLeft(decoded)) throw new Error(decoded.left.message)
    expect(decoded.right.metadata.name).toBe((manifest.object.metadata as { name: string }).name)
  })

  it.each(refused.map((m) => [m.source, m] as const))("%s is refused, naming the field", (source, manifest) => {
    const decoded = decodeConvexInstance(manifest.object)
    expect(Either.isLeft(decoded) && decoded.left.issues.map((issue) => issue.path)).toEqual([refusedReference[source]])
  })

  it("samples use the apiVersion and kind of the CRD", () => {
    for (const manifest of [...examples, ...all]) {
      expect(manifest.object.apiVersion).toBe(`${convexInstanceCrd.spec.group}/v1alpha1`)
    }
  })
})
