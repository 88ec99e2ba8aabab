import { decide } from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { entropy, examples, now, otherEntropy, sampleReferences, settle, simulateCluster } from "./support.js"

describe("the fixed point: feeding back what was rendered changes nothing", () => {
  it.each(examples().map((sample) => [sample.source, sample.instance] as const))("%s", (_source, instance) => {
    const first = decide(instance, { objects: sampleReferences, entropy }, now)
    expect(first.apply).toEqual(first.desired)

    // The rendered objects, as observed (even without any status), need no apply and nothing goes.
    const second = decide(
      { ...instance, status: first.status },
      { objects: [...sampleReferences, ...first.desired], entropy: otherEntropy },
      now
    )
    expect(second.desired).toEqual(first.desired)
    expect(second.apply).toEqual([])
    expect(second.delete).toEqual([])

    // Once the status caught up, a further decision changes nothing at all.
    const third = decide(
      { ...instance, status: second.status },
      { objects: [...sampleReferences, ...first.desired], entropy: otherEntropy },
      now
    )
    expect(third.apply).toEqual([])
    expect(third.delete).toEqual([])
    expect(third.statusChanged).toBe(false)
    expect(third.status).toEqual(second.status)
    expect(third.events).toEqual([])
  })

  it.each(examples().map((sample) => [sample.source, sample.instance] as const))(
    "%s settles Ready in a healthy cluster and then stays put",
    (_source, instance) => {
      const settled = settle(instance)
      expect(settled.decision.status.phase).toBe("Ready")
      expect(settled.decision.apply).toEqual([])
      expect(settled.decision.delete).toEqual([])
      const again = decide(
        { ...settled.instance, status: settled.decision.status },
        { objects: settled.objects, entropy: otherEntropy },
        new Date(now.getTime() + 60_000)
      )
      expect(again.apply).toEqual([])
      expect(again.delete).toEqual([])
      expect(again.statusChanged).toBe(false)
      expect(again.events).toEqual([])
    }
  )

  it("a decision is deterministic", () => {
    for (const { instance } of examples()) {
      const objects = simulateCluster(decide(instance, { objects: sampleReferences, entropy }, now).desired)
      const a = decide(instance, { objects: [...sampleReferences, ...objects], entropy }, now)
      const b = decide(instance, { objects: [...sampleReferences, ...objects], entropy }, now)
      expect(a).toEqual(b)
    }
  })
})
