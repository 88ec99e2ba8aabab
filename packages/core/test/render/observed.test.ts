import { indexObserved } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { configMap, secret } from "../decide/support.js"

describe("observed Secret and ConfigMap data", () => {
  it("keys named like Object.prototype members are data, and missing ones are absent", () => {
    const observed = indexObserved([
      // Object.fromEntries: a `__proto__:` literal would set the literal's prototype instead of a key.
      secret(
        "db",
        Object.fromEntries([
          ["__proto__", "postgres://u:p@h:5432"],
          ["url", "x"]
        ])
      ),
      configMap("bucket", { constructor: "c" })
    ])
    const data = observed.secretData("db")
    expect(data === undefined ? undefined : Object.getOwnPropertyDescriptor(data, "__proto__")?.value).toBe(
      "postgres://u:p@h:5432"
    )
    expect(data?.url).toBe("x")
    expect(data?.constructor).toBeUndefined()
    expect(data?.toString).toBeUndefined()
    expect(observed.configMapData("bucket")?.constructor).toBe("c")
    expect(observed.configMapData("bucket")?.hasOwnProperty).toBeUndefined()
  })
})
