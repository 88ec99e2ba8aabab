import { DatabaseName, databaseNameFor, instanceNameForDatabase, isValidInstanceName } from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"

describe("spec.backend.db.databaseName and Convex's INSTANCE_NAME", () => {
  it.prop("every admitted database name maps to a valid instance name and back", [DatabaseName], ([name]) => {
    const instanceName = instanceNameForDatabase(name)
    expect(isValidInstanceName(instanceName)).toBe(true)
    expect(databaseNameFor(instanceName)).toBe(name)
  })

  it("the reference operator's habit (convex_prod) is admitted", () => {
    expect(Schema.is(DatabaseName)("convex_prod")).toBe(true)
    expect(instanceNameForDatabase("convex_prod")).toBe("convex-prod")
  })

  it.each(["convex-prod", "Convex", "_convex", "convex_", ""])("%j is refused", (name) => {
    expect(Schema.is(DatabaseName)(name)).toBe(false)
  })
})
