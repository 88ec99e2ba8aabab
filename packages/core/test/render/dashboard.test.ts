import { decide } from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { entropy, find, minimal, now } from "../decide/support.js"

const render = (spec: Record<string, unknown> = {}) => decide(minimal(spec), { objects: [], entropy }, now)
const deployment = (spec: Record<string, unknown> = {}) => find(render(spec), "Deployment", "demo-dashboard")
const envOf = (spec: Record<string, unknown> = {}) => deployment(spec).spec.template.spec.containers[0]?.env ?? []

describe("dashboard", () => {
  it("runs the same tag as the backend on 0.0.0.0:6791 as uid 1001", () => {
    const rendered = deployment({ version: "abc" })
    expect(rendered.spec.template.spec.containers[0]?.image).toBe("ghcr.io/get-convex/convex-dashboard:abc")
    expect(envOf()).toContainEqual({ name: "HOSTNAME", value: "0.0.0.0" })
    expect(rendered.spec.template.spec.securityContext?.runAsUser).toBe(1001)
    expect(find(render(), "Service", "demo-dashboard").spec.ports).toEqual([
      { name: "http", port: 6791, targetPort: "http", protocol: "TCP" }
    ])
  })

  it("points the browser at the public API URL, deploymentUrl, or a port-forward", () => {
    const url = (spec: Record<string, unknown>) =>
      envOf(spec).find((entry) => entry.name === "NEXT_PUBLIC_DEPLOYMENT_URL")?.value
    expect(url({ networking: { host: "api.x.io", tlsSecretRef: "t" } })).toBe("https://api.x.io")
    expect(url({ networking: { host: "api.x.io", deploymentUrl: "https://elsewhere.x.io" } })).toBe(
      "https://elsewhere.x.io"
    )
    expect(url({})).toBe("http://127.0.0.1:3210")
  })

  it("pre-fills the admin key only when asked, from the generated Secret", () => {
    expect(envOf().some((entry) => entry.name === "NEXT_PUBLIC_ADMIN_KEY")).toBe(false)
    expect(envOf({ dashboard: { prefillAdminKey: true } })).toContainEqual({
      name: "NEXT_PUBLIC_ADMIN_KEY",
      valueFrom: { secretKeyRef: { name: "demo-convex-secrets", key: "admin-key" } }
    })
  })

  it("takes replicas and security from the spec", () => {
    const rendered = deployment({ dashboard: { replicas: 3, security: { pod: { runAsUser: 2000 } } } })
    expect(rendered.spec.replicas).toBe(3)
    expect(rendered.spec.template.spec.securityContext).toEqual({ runAsUser: 2000 })
  })

  it("is not rendered when disabled, and neither is its route", () => {
    const decision = render({ dashboard: { enabled: false }, networking: { host: "a.x.io", dashboardHost: "d.x.io" } })
    expect(decision.desired.filter((object) => object.metadata.name === "demo-dashboard")).toEqual([])
  })
})
