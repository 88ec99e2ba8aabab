/**
 * CRD installation on an apiserver-only cluster: the Gateway API standard CRDs, a fixture CRD and
 * the ConvexInstance CRD become Established, and the apiserver then validates objects against them.
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { useLocalCluster } from "./support.js"

const convexCrd = fileURLToPath(new URL("../../config/crd/bases/convex.icod.de_convexinstances.yaml", import.meta.url))
const widgetCrd = fileURLToPath(new URL("./fixtures/widget-crd.yaml", import.meta.url))

describe("CRDs on an apiserver-only cluster", () => {
  const cluster = useLocalCluster({ components: "apiserver", gatewayApi: true, crds: [widgetCrd] })

  it("installs the Gateway API standard CRDs and the fixture CRD as Established", () => {
    const installed = cluster.info().installedCrds
    expect(installed).toContain("gateways.gateway.networking.k8s.io")
    expect(installed).toContain("httproutes.gateway.networking.k8s.io")
    expect(installed).toContain("widgets.test.convex-operator.local")
  })

  it("validates custom objects against the CRD schema", async () => {
    const widget = (spec: unknown) => ({
      apiVersion: "test.convex-operator.local/v1",
      kind: "Widget",
      metadata: { name: "w1", namespace: "default" },
      spec
    })
    const rejected = await cluster.create(widget({ size: 0 }))
    expect(rejected.ok).toBe(false)
    if (!rejected.ok) {
      expect(rejected.error.code).toBe(422)
      expect(rejected.error.reason).toBe("Invalid")
      expect(rejected.error.causes.map((c) => c.field)).toContain("spec.size")
    }
    const applied = await cluster.apply(widget({ size: 3 }))
    expect(applied.ok).toBe(true)
    const stored = await cluster.get(
      { apiVersion: "test.convex-operator.local/v1", kind: "Widget", namespace: "default" },
      "w1"
    )
    expect(stored.spec).toEqual({ size: 3 })
  })

  it("installs the ConvexInstance CRD as Established", async () => {
    expect(await cluster.installCrds([convexCrd])).toEqual(["convexinstances.convex.icod.de"])
    const outcome = await cluster.create({
      apiVersion: "convex.icod.de/v1alpha1",
      kind: "ConvexInstance",
      metadata: { name: "not-an-object", namespace: "default" },
      spec: "nope"
    })
    expect(outcome.ok).toBe(false)
    if (!outcome.ok) expect(outcome.error.code).toBe(422)
  })
})
