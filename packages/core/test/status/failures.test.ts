import { findCondition, withApplyFailures } from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { example, settle } from "../decide/support.js"

describe("apply failures", () => {
  it("turn the child's condition and Ready False with the reference operator's *Error reasons", () => {
    const settled = settle(example("convex-dev"))
    const later = new Date("2025-06-01T13:00:00Z")
    const status = withApplyFailures(
      settled.decision.status,
      [
        { kind: "StatefulSet", name: "convex-dev-backend", message: "Invalid: spec.template: Forbidden" },
        { kind: "Service", name: "convex-dev-dashboard", message: "Conflict" }
      ],
      "convex-dev-dashboard",
      later
    )
    expect(status.phase).toBe("Error")
    expect(findCondition(status.conditions, "StatefulSetReady")).toMatchObject({
      status: "False",
      reason: "StatefulSetError",
      message: "StatefulSet convex-dev-backend: Invalid: spec.template: Forbidden",
      lastTransitionTime: "2025-06-01T13:00:00Z"
    })
    expect(findCondition(status.conditions, "DashboardServiceReady")?.reason).toBe("ServiceError")
    expect(findCondition(status.conditions, "ServiceReady")?.status).toBe("True")
    expect(findCondition(status.conditions, "Ready")).toMatchObject({ status: "False", reason: "StatefulSetError" })
    expect(status.conditions?.map((c) => c.type)).toEqual(settled.decision.status.conditions?.map((c) => c.type))
  })

  it("change nothing without failures", () => {
    const decision = settle(example("hello")).decision
    expect(withApplyFailures(decision.status, [], "hello-dashboard", new Date())).toBe(decision.status)
  })
})
