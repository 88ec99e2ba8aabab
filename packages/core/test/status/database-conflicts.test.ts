import { decide } from "@convex-operator/core"
import { type DatabaseClaim, databaseConflicts, databaseServer, type StatefulSet } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { entropy, minimal, now, secret } from "../decide/support.js"

const claim = (namespace: string, name: string, creationTimestamp: string, extra: Partial<DatabaseClaim> = {}) => ({
  namespace,
  name,
  creationTimestamp,
  engine: "postgres" as const,
  server: "pg.db.svc:5432",
  database: name.replaceAll("-", "_"),
  ...extra
})

describe("database conflicts", () => {
  it("hold every later claim of one database on one server, naming the oldest", () => {
    const held = databaseConflicts([
      claim("team-b", "app", "2026-01-02T00:00:00Z"),
      claim("team-a", "app", "2026-01-01T00:00:00Z"),
      claim("team-c", "app", "2026-01-03T00:00:00Z")
    ])
    expect([...held.keys()].sort()).toEqual(["team-b/app", "team-c/app"])
    expect(held.get("team-b/app")).toEqual({ namespace: "team-a", name: "app", database: "app" })
    expect(held.get("team-c/app")).toEqual({ namespace: "team-a", name: "app", database: "app" })
  })

  it("break a tie of creation times by namespace, then name; a claim without a time comes last", () => {
    const tie = databaseConflicts([
      claim("b", "app", "2026-01-01T00:00:00Z"),
      claim("a", "app", "2026-01-01T00:00:00Z")
    ])
    expect([...tie.keys()]).toEqual(["b/app"])
    const untimed = databaseConflicts([
      { ...claim("a", "app", ""), creationTimestamp: undefined },
      claim("z", "app", "2026-01-01T00:00:00Z")
    ])
    expect([...untimed.keys()]).toEqual(["a/app"])
  })

  it("leave alone claims on other servers, other databases or other engines", () => {
    expect(
      databaseConflicts([
        claim("a", "app", "2026-01-01T00:00:00Z"),
        claim("b", "app", "2026-01-02T00:00:00Z", { server: "pg2.db.svc:5432" }),
        claim("c", "app", "2026-01-03T00:00:00Z", { database: "app_c" }),
        claim("d", "app", "2026-01-04T00:00:00Z", { engine: "mysql" }),
        claim("e", "other", "2026-01-05T00:00:00Z")
      ]).size
    ).toBe(0)
  })

  it("identify a server by lower-case host and port, with the engine's default port", () => {
    expect(databaseServer("postgres", "postgres://u:p@PG.db.svc")).toBe("pg.db.svc:5432")
    expect(databaseServer("postgres", "postgresql://u:p@pg.db.svc:5432?sslmode=require")).toBe("pg.db.svc:5432")
    expect(databaseServer("mysql", "mysql://u:p@mysql:3307")).toBe("mysql:3307")
    expect(databaseServer("mysql", "mysql://u@mysql")).toBe("mysql:3306")
    expect(databaseServer("postgres", "not a url")).toBeUndefined()
  })

  it("hold the backend of the later instance, with a condition naming the holder and the field, and one warning", () => {
    const instance = minimal(
      { backend: { db: { engine: "postgres", secretRef: "pg", urlKey: "url" }, storage: { mode: "external" } } },
      "app"
    )
    const objects = [secret("pg", { url: "postgres://convex:hunter2@pg.db.svc:5432" })]
    const free = decide(instance, { objects, entropy }, now)
    expect(free.desired.some((object): object is StatefulSet => object.kind === "StatefulSet")).toBe(true)

    const held = decide(
      instance,
      { objects, entropy, databaseInUse: { namespace: "team-a", name: "app", database: "app" } },
      now
    )
    expect(held.desired.some((object) => object.kind === "StatefulSet")).toBe(false)
    const ready = held.status.conditions?.find((condition) => condition.type === "Ready")
    expect(ready?.status).toBe("False")
    expect(ready?.message).toContain("spec.backend.db.databaseName:")
    expect(ready?.message).toContain("ConvexInstance team-a/app")
    expect(held.events.filter((event) => event.type === "Warning")).toHaveLength(1)
    expect(JSON.stringify([held.status, held.events])).not.toContain("hunter2")
    expect(JSON.stringify([held.status, held.events])).not.toContain("pg.db.svc")

    // The same decision again (status fed back) records no second warning.
    const again = decide(
      { ...instance, status: held.status },
      { objects, entropy, databaseInUse: { namespace: "team-a", name: "app", database: "app" } },
      now
    )
    expect(again.events.filter((event) => event.type === "Warning")).toEqual([])
  })
})
