import { childKinds } from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import { parseAddress } from "../src/cli/run.js"
import { operatorRules } from "../src/rbac.js"
import { equalJson } from "../src/shell/equal-json.js"
import { isGatewayApiKind, resourceOf } from "../src/shell/resources.js"

describe("reconciler helpers", () => {
  it("compares JSON regardless of key order and absent keys", () => {
    expect(equalJson({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true)
    expect(equalJson({ a: 1, b: undefined }, { a: 1 })).toBe(true)
    expect(equalJson({ a: [1, 2] }, { a: [2, 1] })).toBe(false)
    expect(equalJson(undefined, {})).toBe(false)
  })

  it("has a resource for every child kind decide renders, Gateway API kinds marked", () => {
    for (const { kind, apiVersion } of childKinds) expect(resourceOf(kind).apiVersion).toBe(apiVersion)
    expect(childKinds.filter(({ kind }) => isGatewayApiKind(kind)).map(({ kind }) => kind)).toEqual([
      "Gateway",
      "HTTPRoute"
    ])
  })

  it("grants list, watch, patch and delete on every child kind, and only patch on the status", () => {
    const rules = operatorRules()
    for (const { kind } of childKinds) {
      const resource = resourceOf(kind)
      const rule = rules.find((r) => r.apiGroups.includes(resource.group) && r.resources.includes(resource.plural))
      expect(rule?.verbs).toEqual(expect.arrayContaining(["list", "watch", "create", "patch", "delete"]))
    }
    const status = rules.find((r) => r.resources.includes("convexinstances/status"))
    expect(status?.verbs).toEqual(["patch"])
  })

  it("parses bind addresses", () => {
    expect(parseAddress("127.0.0.1:8080")).toEqual(Option.some({ host: "127.0.0.1", port: 8080 }))
    expect(parseAddress(":9090")).toEqual(Option.some({ host: "0.0.0.0", port: 9090 }))
    expect(parseAddress("0")).toEqual(Option.none())
    expect(parseAddress("host:notaport")).toHaveProperty("_tag", "UserError")
  })
})
