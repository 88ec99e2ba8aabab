import {
  childNames,
  decodeConvexInstance,
  generatedPlaceholder,
  renderInstance,
  secretKeys
} from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"

const version = "0123456789abcdef0123456789abcdef01234567"

const instance = (spec: Record<string, unknown>) =>
  Either.getOrThrow(
    decodeConvexInstance({
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexInstance",
      metadata: { name: "app", namespace: "team" },
      spec: { environment: "prod", version, ...spec }
    })
  )

type Rendered = { kind: string; metadata: { name: string; namespace?: string }; [key: string]: unknown }

describe("renderInstance", () => {
  it("renders every child of an instance, the generated Secret as placeholders only", () => {
    const objects = renderInstance(instance({}), { operatorImage: "example.com/operator:1" }) as ReadonlyArray<Rendered>
    const kinds = objects.map((object) => object.kind)
    for (const kind of ["ConfigMap", "Secret", "Service", "StatefulSet"]) expect(kinds).toContain(kind)
    for (const object of objects) expect(object.metadata.namespace).toBe("team")
    const generated = objects.find(
      (object) => object.kind === "Secret" && object.metadata.name === childNames("app").secrets
    )
    expect(generated).toMatchObject({
      stringData: { [secretKeys.adminKey]: generatedPlaceholder, [secretKeys.instanceSecret]: generatedPlaceholder }
    })
    expect(generated).not.toHaveProperty("data")
    // The all-zero stand-in secret never leaks into any other object (e.g. the config hash input).
    expect(JSON.stringify(objects)).not.toContain("0".repeat(64))
    expect(JSON.stringify(objects)).not.toMatch(/app\|01[0-9a-f]{40,}/)
  })

  it("renders a Postgres instance as if its database Secret existed, naming the Secret and key it reads", () => {
    const objects = renderInstance(
      instance({ backend: { db: { engine: "postgres", secretRef: "pg", urlKey: "url" } } }),
      { operatorImage: "example.com/operator:1" }
    ) as ReadonlyArray<Rendered>
    const statefulSet = JSON.stringify(objects.find((object) => object.kind === "StatefulSet"))
    expect(statefulSet).toContain('"name":"pg"')
    expect(JSON.stringify(objects)).not.toContain("user:password")
  })

  it("is deterministic: the same instance renders the same objects", () => {
    const render = () => renderInstance(instance({}), { operatorImage: "example.com/operator:1" })
    expect(render()).toEqual(render())
  })
})
