import {
  databaseNameFor,
  defaultInstanceName,
  InstanceName,
  instanceNameForDatabase,
  instanceNameProblem,
  isValidInstanceName,
  validateInstanceName
} from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Either, ParseResult, Schema } from "effect"

describe("instance name", () => {
  it.each(["convex-self-hosted", "carnitas", "a", "0", "my-app-2", "a".repeat(63)])("accepts %s", (name) => {
    expect(isValidInstanceName(name)).toBe(true)
    expect(instanceNameProblem(name)).toBeUndefined()
    expect(Either.getOrThrow(validateInstanceName(name))).toBe(name)
    expect(Schema.decodeUnknownSync(InstanceName)(name)).toBe(name)
  })

  it("the default is valid", () => {
    expect(isValidInstanceName(defaultInstanceName)).toBe(true)
  })

  it.each([
    ["", 'is empty: set a name such as "convex-self-hosted"'],
    ["a".repeat(64), "is 64 characters long: use at most 63"],
    ["My_App", `contains upper-case letters and '_': use "my-app"`],
    ["my_app", `contains '_': use "my-app"`],
    ["MyApp", 'contains upper-case letters: use "myapp"'],
    ["my.app", "contains \".\" at position 3: use only lower-case letters, digits and '-'"],
    ["my app", 'contains " " at position 3'],
    ["-app", "starts or ends with '-'"],
    ["app-", "starts or ends with '-'"],
    ["prod:app", "contains ':'"],
    ["a|b", "contains '|'"]
  ])("rejects %j, naming the fix", (name, expected) => {
    expect(isValidInstanceName(name)).toBe(false)
    const problem = instanceNameProblem(name)
    expect(problem).toContain(`instance name ${JSON.stringify(name)} `)
    expect(problem).toContain(expected)
    const error = Either.getOrThrow(Either.flip(validateInstanceName(name)))
    expect(error).toMatchObject({ _tag: "InvalidInstanceName", name, message: problem })
  })

  it("the Schema reports the same message", () => {
    const result = Schema.decodeUnknownEither(InstanceName)("My_App")
    expect(Either.match(result, { onLeft: ParseResult.TreeFormatter.formatErrorSync, onRight: String })).toBe(
      instanceNameProblem("My_App")
    )
  })

  it.prop("the Schema's arbitrary gives valid names", [Arbitrary.make(InstanceName)], ([name]) => {
    expect(isValidInstanceName(name)).toBe(true)
    expect(instanceNameProblem(name)).toBeUndefined()
  })

  it.prop("a name and its database name map to each other", [Arbitrary.make(InstanceName)], ([name]) => {
    const database = databaseNameFor(name)
    expect(database).toMatch(/^[a-z0-9_]*$/)
    expect(instanceNameForDatabase(database)).toBe(name)
  })

  it("turns '-' into '_' for the database, and back", () => {
    expect(databaseNameFor("convex-self-hosted")).toBe("convex_self_hosted")
    expect(instanceNameForDatabase("convex_prod")).toBe("convex-prod")
  })
})
