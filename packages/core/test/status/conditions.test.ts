import type { Condition } from "@convex-operator/core"
import { applyConditions, formatTime, transitionEvents } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"

const t0 = new Date("2025-01-01T00:00:00.123Z")
const t1 = new Date("2025-01-01T01:00:00Z")

describe("conditions", () => {
  it("format times as metav1.Time", () => expect(formatTime(t0)).toBe("2025-01-01T00:00:00Z"))

  it("keep lastTransitionTime while the status holds, even when reason and message change", () => {
    const first = applyConditions(
      undefined,
      [{ type: "Ready", status: "False", reason: "WaitingForBackend", message: "a" }],
      1,
      t0
    )
    const second = applyConditions(
      first,
      [{ type: "Ready", status: "False", reason: "WaitingForGateway", message: "b" }],
      2,
      t1
    )
    expect(second).toEqual([
      {
        type: "Ready",
        status: "False",
        observedGeneration: 2,
        lastTransitionTime: "2025-01-01T00:00:00Z",
        reason: "WaitingForGateway",
        message: "b"
      }
    ])
    const third = applyConditions(
      second,
      [{ type: "Ready", status: "True", reason: "BackendReady", message: "c" }],
      2,
      t1
    )
    expect(third[0]?.lastTransitionTime).toBe("2025-01-01T01:00:00Z")
  })

  it("keep conditions of other types after their own", () => {
    const foreign: Condition = {
      type: "example.com/Audited",
      status: "True",
      lastTransitionTime: "x",
      reason: "R",
      message: ""
    }
    const next = applyConditions(
      [foreign],
      [{ type: "Ready", status: "True", reason: "BackendReady", message: "" }],
      undefined,
      t0
    )
    expect(next.map((c) => c.type)).toEqual(["Ready", "example.com/Audited"])
    expect(next[0]?.observedGeneration).toBeUndefined()
  })

  it("cut messages to the API's limit", () => {
    const [c] = applyConditions(
      undefined,
      [{ type: "Ready", status: "False", reason: "X", message: "m".repeat(40000) }],
      1,
      t0
    )
    expect(c?.message.length).toBe(32768)
  })
})

describe("transition events", () => {
  const ready = (status: "True" | "False", reason: string): Condition => ({
    type: "Ready",
    status,
    reason,
    message: reason,
    lastTransitionTime: "x"
  })

  it("announce Ready, failures as warnings, and nothing when nothing changed", () => {
    expect(transitionEvents(undefined, [ready("True", "BackendReady")])).toEqual([
      { type: "Normal", reason: "Ready", action: "Reconcile", message: "Ready=True: BackendReady" }
    ])
    expect(transitionEvents([ready("True", "BackendReady")], [ready("True", "BackendReady")])).toEqual([])
    expect(transitionEvents(undefined, [ready("False", "WaitingForBackend")])).toEqual([])
    expect(transitionEvents([ready("True", "BackendReady")], [ready("False", "UpgradeFailed")])[0]?.type).toBe(
      "Warning"
    )
    // SecretsReady: fine on the way to Ready is silent; fine after a failure is a recovery worth an event.
    const secrets = (status: "True" | "False", reason: string) => ({ ...ready(status, reason), type: "SecretsReady" })
    expect(transitionEvents([secrets("False", "Provisioning")], [secrets("True", "Available")])).toEqual([])
    expect(transitionEvents([secrets("False", "ValidationFailed")], [secrets("True", "Available")])).toEqual([
      expect.objectContaining({ type: "Normal", reason: "Available", action: "Validate" })
    ])
  })
})
