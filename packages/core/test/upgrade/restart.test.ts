import { decide, restartNext } from "@convex-operator/core"
import { findCondition, goDurationMillis, planRestart, restartedAtAnnotation } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Option } from "effect"
import { entropy, example, find, minimal, now, settle, simulateCluster } from "../decide/support.js"

const hours = (n: number) => n * 3_600_000

describe("Go durations", () => {
  it.each([
    ["168h", hours(168)],
    ["1h30m", hours(1.5)],
    ["90m", hours(1.5)],
    ["0s", 0],
    ["0", 0],
    ["1.5h", hours(1.5)],
    ["500ms", 500]
  ])("%s", (text, millis) => expect(goDurationMillis(text)).toBe(millis))

  it("rejects what is not a duration", () => expect(goDurationMillis("1d")).toBeUndefined())
})

describe("restart plan", () => {
  const base = { interval: "24h", lastRestartTime: undefined, upgrading: false, now }

  it("is disabled by a zero interval, keeping the last restart time", () => {
    expect(
      planRestart({
        ...base,
        interval: "0s",
        readySince: "2020-01-01T00:00:00Z",
        lastRestartTime: "2020-01-01T00:00:00Z"
      })
    ).toEqual({
      _tag: "Disabled",
      restartedAt: "2020-01-01T00:00:00Z"
    })
  })

  it("is never due when the interval ends past what a Date holds (no NaN wake-up)", () => {
    const plan = planRestart({ ...base, interval: "999999999999h", readySince: "2020-01-01T00:00:00Z" })
    expect(plan).toEqual({ _tag: "Waiting", restartedAt: undefined, dueAt: undefined })
  })

  it("waits while the backend is not ready or an upgrade runs", () => {
    expect(planRestart({ ...base, readySince: undefined })).toEqual({
      _tag: "Waiting",
      restartedAt: undefined,
      dueAt: undefined
    })
    expect(planRestart({ ...base, readySince: "2020-01-01T00:00:00Z", upgrading: true })._tag).toBe("Waiting")
  })

  it("is due an interval after the later of the last start and the last restart", () => {
    const readySince = new Date(now.getTime() - hours(23)).toISOString()
    expect(planRestart({ ...base, readySince })).toEqual({
      _tag: "Waiting",
      restartedAt: undefined,
      dueAt: new Date(now.getTime() + hours(1))
    })
    const restarted = new Date(now.getTime() - hours(1)).toISOString()
    const plan = planRestart({
      ...base,
      readySince: new Date(now.getTime() - hours(48)).toISOString(),
      lastRestartTime: restarted
    })
    expect(plan).toMatchObject({ _tag: "Waiting", dueAt: new Date(now.getTime() + hours(23)) })
    expect(planRestart({ ...base, readySince: new Date(now.getTime() - hours(25)).toISOString() })).toEqual({
      _tag: "Restart",
      restartedAt: "2025-06-01T12:00:00Z",
      dueAt: new Date(now.getTime() - hours(1))
    })
  })
})

describe("periodic restarts through decide", () => {
  it("restarts the backend once the interval has elapsed, then waits a full interval again", () => {
    const settled = settle(example("hello"))
    const later = new Date(now.getTime() + hours(168))
    // Due by the clock, but only the restart saga's move (its timer fired) restarts; a stale move does not.
    const unmoved = decide(settled.instance, { objects: settled.objects, entropy }, later)
    expect(unmoved.apply).toEqual([])
    expect(unmoved.status.lastRestartTime).toBe(settled.instance.status?.lastRestartTime)
    const restartMove = restartNext(settled.instance, settled.objects, later).move
    expect(restartMove).toEqual({ from: settled.instance.status?.lastRestartTime, due: "2025-06-08T12:00:00Z" })
    const stale = { from: "2025-06-01T11:00:00Z", due: "2025-06-08T12:00:00Z" }
    expect(decide(settled.instance, { objects: settled.objects, entropy, restartMove: stale }, later).apply).toEqual([])
    const restart = decide(settled.instance, { objects: settled.objects, entropy, restartMove }, later)
    const annotations = find(restart, "StatefulSet", "hello-backend").spec.template.metadata.annotations
    expect(annotations?.[restartedAtAnnotation]).toBe("2025-06-08T12:00:00Z")
    expect(restart.status.lastRestartTime).toBe("2025-06-08T12:00:00Z")
    expect(restart.apply.map((object) => object.kind)).toEqual(["StatefulSet"])
    expect(restart.events).toContainEqual(expect.objectContaining({ reason: "RestartTriggered" }))
    expect(Option.isNone(restart.requeueAfter)).toBe(true)

    // The pod rolls: the StatefulSet is not ready until the new pod is.
    expect(findCondition(restart.status.conditions, "StatefulSetReady")?.status).toBe("False")
    const rolled = simulateCluster(restart.desired)
    const afterRoll = decide({ ...settled.instance, status: restart.status }, { objects: rolled, entropy }, later)
    expect(afterRoll.apply).toEqual([])
    expect(findCondition(afterRoll.status.conditions, "StatefulSetReady")?.status).toBe("True")
    expect(Option.map(afterRoll.requeueAfter, Duration.toHours)).toEqual(Option.some(168))
  })

  it("never adds a restart annotation when restarts are disabled", () => {
    const settled = settle(minimal({ maintenance: { restartInterval: "0s" } }))
    const decision = decide(
      settled.instance,
      { objects: settled.objects, entropy },
      new Date(now.getTime() + hours(10_000))
    )
    expect(
      find(decision, "StatefulSet", "demo-backend").spec.template.metadata.annotations?.[restartedAtAnnotation]
    ).toBeUndefined()
    expect(decision.apply).toEqual([])
  })
})
