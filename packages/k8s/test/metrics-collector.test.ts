/** Scrape-time collectors of the metrics registry: computed on each render, removable, isolated from failures. */
import { describe, expect, it } from "vitest"
import { Metrics } from "../src/index.js"

describe("Registry.collector", () => {
  it("renders a collector's families after the stored ones, computed anew on every render", () => {
    const registry = Metrics.makeRegistry()
    registry.gauge("stored", "A stored gauge").set({}, 1)
    let value = 1
    registry.collector(() => [
      { name: "computed", help: "A computed gauge", type: "gauge", samples: [{ labels: { name: 'a"b' }, value }] }
    ])
    expect(registry.render()).toBe(
      [
        "# HELP stored A stored gauge",
        "# TYPE stored gauge",
        "stored 1",
        "# HELP computed A computed gauge",
        "# TYPE computed gauge",
        'computed{name="a\\"b"} 1',
        ""
      ].join("\n")
    )
    value = 2
    expect(registry.render()).toContain('computed{name="a\\"b"} 2')
  })

  it("a removed collector renders nothing; one that throws does not break the others", () => {
    const registry = Metrics.makeRegistry()
    const remove = registry.collector(() => [{ name: "gone", help: "h", type: "gauge", samples: [] }])
    registry.collector(() => {
      throw new Error("boom")
    })
    registry.collector(() => [{ name: "kept", help: "h", type: "counter", samples: [{ labels: {}, value: 3 }] }])
    const first = registry.render()
    expect(first).toContain("# TYPE gone gauge")
    expect(first).toContain("metrics_collector_errors_total 1")
    remove()
    const text = registry.render()
    expect(text).not.toContain("gone")
    expect(text).toContain("# TYPE kept counter\nkept 3")
    // The one that threw shows as a count of failed collections, one per render.
    expect(text).toContain("# TYPE metrics_collector_errors_total counter\nmetrics_collector_errors_total 2")
  })
})
