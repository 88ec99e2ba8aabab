import type { KubeObject } from "@convex-operator/core"
import {
  deploymentReadiness,
  gatewayState,
  jobOutcome,
  type RouteParentRef,
  routeState,
  statefulSetReadiness
} from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"

const object = (kind: string, status: unknown, generation = 2): KubeObject => ({
  apiVersion: "v1",
  kind,
  metadata: { name: "x", namespace: "ns", generation },
  status
})

describe("workload readiness", () => {
  it("StatefulSet: ready only when the current generation is rolled out and the pod is ready", () => {
    const ok = {
      observedGeneration: 2,
      replicas: 1,
      readyReplicas: 1,
      updatedReplicas: 1,
      currentRevision: "b",
      updateRevision: "b"
    }
    expect(statefulSetReadiness(object("StatefulSet", ok)).ready).toBe(true)
    expect(statefulSetReadiness(object("StatefulSet", { ...ok, observedGeneration: 1 })).ready).toBe(false)
    expect(statefulSetReadiness(object("StatefulSet", { ...ok, currentRevision: "a" })).ready).toBe(false)
    expect(statefulSetReadiness(object("StatefulSet", { ...ok, readyReplicas: 0 })).ready).toBe(false)
    expect(statefulSetReadiness(undefined).ready).toBe(false)
    expect(statefulSetReadiness(object("StatefulSet", "garbage")).ready).toBe(false)
  })

  it("StatefulSet: a new backend coming up keeps one message until its pod is ready (no status write per step)", () => {
    const steps = [
      {},
      { observedGeneration: 1, replicas: 0, currentRevision: "a", updateRevision: "a" },
      { observedGeneration: 1, replicas: 1, updatedReplicas: 1, currentRevision: "a", updateRevision: "a" }
    ].map((status) => statefulSetReadiness(object("StatefulSet", status, 1)))
    expect(new Set(steps.map((step) => step.message)).size).toBe(1)
    expect(steps.every((step) => !step.ready)).toBe(true)
    // A changed spec rolling out says so.
    expect(
      statefulSetReadiness(
        object("StatefulSet", { observedGeneration: 1, readyReplicas: 1, currentRevision: "a", updateRevision: "a" }, 2)
      ).message
    ).toBe("the backend pod is being replaced by the new revision")
    // The same for the dashboard's Deployment: not yet seen by its controller reads as none updated.
    expect(deploymentReadiness(object("Deployment", {}, 1), 1)).toEqual(
      deploymentReadiness(object("Deployment", { observedGeneration: 1, replicas: 1 }, 1), 1)
    )
  })

  it("Deployment: every replica updated and available", () => {
    const ok = { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }
    expect(deploymentReadiness(object("Deployment", ok), 2).ready).toBe(true)
    expect(deploymentReadiness(object("Deployment", { ...ok, availableReplicas: 1 }), 2)).toEqual({
      ready: false,
      message: "1 of 2 pods updated and available"
    })
    expect(deploymentReadiness(object("Deployment", { ...ok, replicas: 3 }), 2).ready).toBe(false)
  })

  it("Job outcomes", () => {
    expect(jobOutcome(undefined)).toBe("Absent")
    expect(jobOutcome(object("Job", { active: 1 }))).toBe("Running")
    expect(jobOutcome(object("Job", { conditions: [{ type: "Complete", status: "True" }] }))).toBe("Succeeded")
    expect(jobOutcome(object("Job", { failed: 4, conditions: [{ type: "Failed", status: "True" }] }))).toBe("Failed")
  })
})

describe("Gateway API readiness", () => {
  const condition = (type: string, status: string, observedGeneration = 2, reason?: string) => ({
    type,
    status,
    observedGeneration,
    ...(reason !== undefined ? { reason } : {})
  })

  it("a Gateway is ready when Accepted and Programmed hold for its generation (Ready is never looked at)", () => {
    const accepted = condition("Accepted", "True")
    const programmed = condition("Programmed", "True")
    expect(gatewayState(object("Gateway", { conditions: [accepted, programmed] }), undefined)._tag).toBe("Ready")
    expect(
      gatewayState(object("Gateway", { conditions: [accepted, condition("Programmed", "True", 1)] }), undefined)._tag
    ).toBe("Pending")
    expect(gatewayState(object("Gateway", { conditions: [condition("Ready", "True")] }), undefined)._tag).toBe(
      "Pending"
    )
    expect(
      gatewayState(
        object("Gateway", { conditions: [condition("Accepted", "False", 2, "InvalidGatewayClass")] }),
        undefined
      )
    ).toMatchObject({
      _tag: "Rejected"
    })
  })

  it("a listener with unresolved refs waits for its certificate", () => {
    const gateway = object("Gateway", {
      conditions: [condition("Accepted", "True"), condition("Programmed", "False")],
      listeners: [{ name: "api-https", conditions: [condition("ResolvedRefs", "False", 2, "InvalidCertificateRef")] }]
    })
    expect(gatewayState(gateway, "tls")).toEqual({
      _tag: "WaitingForCertificate",
      message: 'listener api-https waits for its TLS certificate (Secret "tls")'
    })
  })

  it("a route is ready when each of our parents accepted it and resolved its refs", () => {
    const parents: ReadonlyArray<RouteParentRef> = [
      { group: "gateway.networking.k8s.io", kind: "Gateway", name: "gw", sectionName: "https" }
    ]
    const status = (conditions: ReadonlyArray<unknown>, parentRef: unknown = { name: "gw", sectionName: "https" }) =>
      object("HTTPRoute", { parents: [{ parentRef, conditions }] })
    const both = [condition("Accepted", "True"), condition("ResolvedRefs", "True")]
    expect(routeState(status(both), parents, "ns")._tag).toBe("Ready")
    expect(routeState(status(both, { name: "gw", namespace: "ns", sectionName: "https" }), parents, "ns")._tag).toBe(
      "Ready"
    )
    expect(routeState(status(both, { name: "other" }), parents, "ns")._tag).toBe("Pending")
    expect(routeState(status([condition("Accepted", "True")]), parents, "ns")._tag).toBe("Pending")
    expect(
      routeState(
        status([condition("Accepted", "True"), condition("ResolvedRefs", "False", 2, "BackendNotFound")]),
        parents,
        "ns"
      )
    ).toMatchObject({
      _tag: "Rejected"
    })
  })
})
