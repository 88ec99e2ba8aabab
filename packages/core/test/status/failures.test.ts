import { failureCondition, findCondition, transitionEvents, withApplyFailures } from "@convex-operator/core/internal"
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

  it("a denied request (reason Forbidden) names the reason of its condition and of Ready, before other failures", () => {
    const settled = settle(example("convex-dev"))
    expect(findCondition(settled.decision.status.conditions, "Ready")?.status).toBe("True")
    const denied =
      "Forbidden: the operator may not patch statefulsets.apps in namespace team-a (as system:serviceaccount:ops:convex-operator)"
    const status = withApplyFailures(
      settled.decision.status,
      [
        { kind: "ConfigMap", name: "convex-dev-config", message: "Invalid: data: Too long" },
        { kind: "StatefulSet", name: "convex-dev-backend", message: denied, reason: "Forbidden" }
      ],
      "convex-dev-dashboard",
      new Date("2025-06-01T13:00:00Z")
    )
    expect(status.phase).toBe("Error")
    expect(findCondition(status.conditions, "ConfigMapReady")?.reason).toBe("ConfigMapError")
    expect(findCondition(status.conditions, "StatefulSetReady")).toMatchObject({
      status: "False",
      reason: "Forbidden",
      message: `StatefulSet convex-dev-backend: ${denied}`
    })
    expect(findCondition(status.conditions, "Ready")).toMatchObject({
      status: "False",
      reason: "Forbidden",
      message: `StatefulSet convex-dev-backend: ${denied}`
    })
    // One Warning event for the transition, with the reason and the message.
    expect(transitionEvents(settled.decision.status.conditions, status.conditions ?? [])).toContainEqual({
      type: "Warning",
      reason: "Forbidden",
      action: "Reconcile",
      message: `Ready=False: StatefulSet convex-dev-backend: ${denied}`
    })
    // The same status again announces nothing.
    expect(transitionEvents(status.conditions, status.conditions ?? [])).toEqual([])
  })

  it("of two failures on one condition, the Forbidden one gives the reason", () => {
    const status = withApplyFailures(
      settle(example("convex-dev")).decision.status,
      [
        { kind: "Service", name: "convex-dev-backend", message: "denied", reason: "Forbidden" },
        { kind: "Service", name: "convex-dev-backend-headless", message: "Invalid: spec.ports" }
      ],
      "convex-dev-dashboard",
      new Date()
    )
    expect(findCondition(status.conditions, "ServiceReady")).toMatchObject({
      reason: "Forbidden",
      message: "Service convex-dev-backend: denied; Service convex-dev-backend-headless: Invalid: spec.ports"
    })
  })

  it("reports what upgrades create on UpgradeInProgress, routes on HTTPRouteReady", () => {
    expect(failureCondition("Role", "x-env", "x-dashboard")).toEqual({
      type: "UpgradeInProgress",
      reason: "RoleError"
    })
    expect(failureCondition("ServiceAccount", "x-env", "x-dashboard").type).toBe("UpgradeInProgress")
    expect(failureCondition("RoleBinding", "x-env", "x-dashboard").type).toBe("UpgradeInProgress")
    expect(failureCondition("ConvexBackup", "x-pre-upgrade", "x-dashboard")).toEqual({
      type: "UpgradeInProgress",
      reason: "ConvexBackupError"
    })
    expect(failureCondition("Ingress", "x", "x-dashboard")).toEqual({ type: "HTTPRouteReady", reason: "IngressError" })
    expect(failureCondition("HTTPRoute", "x", "x-dashboard")).toEqual({
      type: "HTTPRouteReady",
      reason: "HTTPRouteError"
    })
  })

  it("change nothing without failures", () => {
    const decision = settle(example("hello")).decision
    expect(withApplyFailures(decision.status, [], "hello-dashboard", new Date())).toBe(decision.status)
  })
})
