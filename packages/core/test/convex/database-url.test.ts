import { databaseUrlProblems, databaseUrlVariable, validateDatabaseUrl } from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"

const password = "s3cr3t-Pa55"
const kinds = (engine: "postgres" | "mysql", url: string) =>
  databaseUrlProblems({ engine, url, instanceName: "my-app" }).map((problem) => problem.kind)

describe("database URL", () => {
  it.each([
    ["postgres", `postgres://convex:${password}@db.example.com:5432`],
    ["postgres", `postgresql://convex:${password}@db.example.com:5432/`],
    ["postgres", "postgres://convex@db"],
    ["postgres", "postgres://convex:p%40ss%2Fword@db:5432"],
    ["mysql", `mysql://convex:${password}@mysql.default.svc:3306`],
    ["mysql", "mysql://convex@[::1]:3306/"]
  ] as const)("accepts %s %s", (engine, url) => {
    expect(databaseUrlProblems({ engine, url })).toEqual([])
    expect(Either.isRight(validateDatabaseUrl({ engine, url }))).toBe(true)
  })

  it("rejects a database name, naming it and the database Convex uses", () => {
    const [problem, ...rest] = databaseUrlProblems({
      engine: "postgres",
      url: `postgres://convex:${password}@db:5432/foo`,
      instanceName: "my-app"
    })
    expect(rest).toEqual([])
    expect(problem).toEqual({
      kind: "database",
      message:
        'POSTGRES_URL names database "foo": remove the path; Convex uses the database "my_app", which must already exist'
    })
    expect(kinds("mysql", "mysql://convex@db/foo")).toEqual(["database"])
  })

  it("without an instance name, says how the database is named", () => {
    const [problem] = databaseUrlProblems({ engine: "mysql", url: "mysql://convex@db/foo" })
    expect(problem?.message).toContain('MYSQL_URL names database "foo"')
    expect(problem?.message).toContain("INSTANCE_NAME with '-' turned into '_'")
  })

  it("accepts the TLS parameters Convex passes through, and refuses every other one by name", () => {
    expect(kinds("postgres", "postgres://convex@db?sslmode=require")).toEqual([])
    expect(
      databaseUrlProblems({ engine: "postgres", url: "postgres://convex@db?sslmode=disable", requireSSL: false })
    ).toEqual([])
    expect(kinds("mysql", "mysql://convex@db?require_ssl=true&verify_ca=true")).toEqual([])
    expect(
      databaseUrlProblems({ engine: "mysql", url: "mysql://convex@db?require_ssl=false", requireSSL: false })
    ).toEqual([])
    const [unknown, ...rest] = databaseUrlProblems({
      engine: "postgres",
      url: "postgres://convex@db?application_name=x"
    })
    expect(rest).toEqual([])
    expect(unknown).toEqual({
      kind: "query",
      message:
        'POSTGRES_URL has the query parameter "application_name", which Convex does not pass to the postgres driver: remove it (accepted: sslmode)'
    })
    // A Postgres parameter is not a MySQL one.
    expect(kinds("mysql", "mysql://convex@db?sslmode=require")).toEqual(["query"])
    expect(
      databaseUrlProblems({ engine: "postgres", url: "postgres://convex@db?sslmode=verify-full" })[0]?.message
    ).toBe('POSTGRES_URL query parameter "sslmode" must be one of disable, prefer, require')
  })

  it("says when Convex overrides a TLS parameter because TLS is required", () => {
    const [problem] = databaseUrlProblems({ engine: "postgres", url: "postgres://convex@db?sslmode=disable" })
    expect(problem).toEqual({
      kind: "overridden",
      message:
        "POSTGRES_URL sets sslmode=disable, but Convex sets sslmode=require while TLS is required: set spec.backend.db.requireSSL to false for sslmode=disable to take effect"
    })
    expect(kinds("mysql", "mysql://convex@db?verify_ca=false")).toEqual(["overridden"])
  })

  it("never names a query parameter that does not look like one", () => {
    const [problem] = databaseUrlProblems({ engine: "postgres", url: `postgres://convex@db?${password}%20x=1` })
    expect(problem?.message).toContain("has a query parameter,")
    expect(problem?.message).not.toContain(password)
  })

  it("rejects a missing user name", () => {
    expect(kinds("postgres", `postgres://:${password}@db:5432`)).toEqual(["username"])
    expect(kinds("mysql", "mysql://db:3306")).toEqual(["username"])
  })

  it("rejects the wrong scheme, naming the fix", () => {
    expect(databaseUrlProblems({ engine: "postgres", url: "mysql://convex@db" })[0]?.message).toBe(
      "POSTGRES_URL uses the scheme mysql:, not postgres: set the database engine to mysql, or give a postgres:// URL"
    )
    expect(databaseUrlProblems({ engine: "mysql", url: "postgresql://convex@db" })[0]?.message).toContain(
      "set the database engine to postgres"
    )
    expect(databaseUrlProblems({ engine: "postgres", url: "jdbc:postgresql://db:5432/x" })).toEqual([
      {
        kind: "scheme",
        message:
          "POSTGRES_URL uses the scheme jdbc:, not postgres: drop the jdbc: prefix and write it as postgres://user:password@host:5432"
      }
    ])
    expect(kinds("postgres", "https://convex@db")).toEqual(["scheme"])
  })

  it("reports every problem at once", () => {
    expect(kinds("postgres", "postgres://db:5432/convex?ssl=true#x")).toEqual([
      "username",
      "database",
      "query",
      "fragment"
    ])
    const error = Either.getOrThrow(
      Either.flip(validateDatabaseUrl({ engine: "postgres", url: "postgres://db/x?a=b" }))
    )
    expect(error._tag).toBe("InvalidDatabaseUrl")
    expect(error.problems.map((p) => p.kind)).toEqual(["username", "database", "query"])
    expect(error.message.split("; POSTGRES_URL").length).toBe(3)
  })

  it("rejects what is not a URL", () => {
    expect(kinds("postgres", "db.example.com:5432")).toEqual(["scheme"])
    expect(kinds("postgres", "not a url")).toEqual(["unparseable"])
    expect(kinds("postgres", "postgres:///convex")).toEqual(["host", "username", "database"])
  })

  it("never repeats the URL, the password or the query in a message", () => {
    const urls = [
      `postgres://convex:${password}@db:5432/foo?password=${password}#${password}`,
      `postgres://:${password}@db`,
      `mysql://convex:${password}@db`,
      `${password}://convex:${password}@db`,
      `postgres://convex:${password}@db:${password}`,
      // An unencoded '/' or '@' in the password puts part of it in the path, and '?' in the query.
      `postgres://convex:ab@${password}/x${password}@db`,
      `postgres://convex:ab@${password}?x${password}@db`,
      `postgres://convex:${password}#x@db`
    ]
    let checked = 0
    for (const url of urls) {
      for (const engine of ["postgres", "mysql"] as const) {
        for (const { message } of databaseUrlProblems({ engine, url, instanceName: "my-app" })) {
          checked++
          expect(message).not.toContain(password)
          expect(message).not.toContain(url)
        }
      }
    }
    expect(checked).toBeGreaterThan(urls.length)
  })

  it("names the variable Convex reads", () => {
    expect(databaseUrlVariable("postgres")).toBe("POSTGRES_URL")
    expect(databaseUrlVariable("mysql")).toBe("MYSQL_URL")
  })
})
