/**
 * The README's numbers about the tests come from the code or from recorded output: counts are the lengths of the
 * lists the tests use or of the files on disk, constants are read from the tests that use them, and times and run
 * counts are quoted from test/results/, so a README that drifts from either fails here. Every number in the "Tests"
 * section is either one of these checked claims or named below as prose (an ordinal, an HTTP status), so a new
 * figure cannot slip in unchecked.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import ts from "typescript"
import { describe, expect, it } from "vitest"
import { envoyGatewayVersion } from "../cluster/envoy-gateway.js"
import { admittedHostile } from "../e2e/support/hostile-specs.js"
import { invalidSpecs } from "../integration/admission-corpus.js"
import { repoRoot } from "../support/manifests.js"

const read = (file: string) => fs.readFileSync(path.join(repoRoot, file), "utf8")
/** Line breaks and runs of spaces as one space, so a figure wrapped across lines still matches. */
const flat = (text: string) => text.replace(/\s+/g, " ")
const readme = flat(read("README.md"))
const section = (heading: string) => {
  const start = readme.indexOf(`### ${heading} `)
  expect(start, `README has a "${heading}" section`).toBeGreaterThanOrEqual(0)
  const end = readme.indexOf(" ### ", start + 4)
  return readme.slice(start, end < 0 ? undefined : end)
}
const results = (file: string) => read(path.join("test/results", file))

const words = [
  "zero",
  "one",
  "two",
  "three",
  "four",
  "five",
  "six",
  "seven",
  "eight",
  "nine",
  "ten",
  "eleven",
  "twelve"
]
/** `seven` or `Ten` or `12` → the number. */
const numberOf = (token: string): number => (/^\d+$/.test(token) ? Number(token) : words.indexOf(token.toLowerCase()))

/** Test files in `dir` whose names match. */
const filesIn = (dir: string, name: RegExp) =>
  fs.readdirSync(path.join(repoRoot, dir)).filter((file) => name.test(file))

/**
 * The checked claims of the "Tests" section, each a pattern whose groups the tests below compare with the code or
 * test/results/. A README change that breaks a pattern fails its test (the claim is gone or reworded); a number
 * outside every pattern (and outside `prose`) fails the last test.
 */
const claims = {
  projects: /runs (\w+) vitest projects/,
  runCounts: /(\d+ min \d+ s) \((\d+) files, (\d+) tests\)/g,
  times: /\d+ min \d+ s/g,
  invalid: /(\d+) invalid instances/,
  hostile: /(\d+) hostile specs/,
  steadyState: /(\d+) s of steady state/,
  envoyGateway: /Envoy Gateway (v\d+\.\d+\.\d+)/,
  faultFiles: /\(`test\/e2e\/fault-\*\.test\.ts`, (\w+) files;/,
  kills: /(\d+) kills a run/,
  apiserverDown: /kept down (\d+) s/,
  crashRuns:
    /(\w+) runs in a row of the (\w+) crash files: the first (\w+) failed .*? the last (\w+) passed, (\d+)–(\d+) s each/,
  effectFloor: /effect (\d+\.\d+\.\d+) \(the floor of their peer range/,
  imageUser: /user (\d+), no sources/,
  imageNode: /Debian trixie base with Node (\d+\.\d+),/,
  imageTimes: /Cold (\d+ min \d+ s), warm about (\d+)–(\d+) s/
} as const

/** Numbers in the "Tests" section that are prose, not figures about the code or a run. */
const prose = [
  / \d\. `\w+` \(`/g, // the numbered list of projects
  /2-core machines?/g,
  /after 410 Gone/g,
  /exit code 0/g,
  /`kill -9`/g,
  /the three install paths \(bundle, kustomize, Helm/g, // the three are named right there
  /two replicas/g
]

describe("README numbers", () => {
  const tests = section("Tests")
  const match = (pattern: RegExp) => {
    const found = pattern.exec(tests)
    expect(found, `README's Tests section matches ${pattern}`).not.toBeNull()
    return found as RegExpExecArray
  }

  it("count the admission corpus and the admitted hostile specs as the tests do", () => {
    expect(Number(match(claims.invalid)[1])).toBe(invalidSpecs.length)
    expect(Number(match(claims.hostile)[1])).toBe(admittedHostile.length)
  })

  it("count the vitest projects as vitest.config.ts defines them", () => {
    const projects = [...read("vitest.config.ts").matchAll(/^\s*name: "([\w-]+)"/gm)].map((m) => m[1])
    expect(projects.length).toBeGreaterThan(0)
    expect(numberOf(match(claims.projects)[1] ?? ""), `projects: ${projects.join(", ")}`).toBe(projects.length)
  })

  it("quote the run and build times of `npm test` and the image tier from test/results/", () => {
    const times = readme.match(claims.times) ?? []
    expect(times.length).toBeGreaterThanOrEqual(4)
    const recorded = `${results("ci-runs.md")}\n${results("image-tier.md")}`
    for (const time of times) {
      expect(recorded, `${time} is recorded in test/results/ci-runs.md or image-tier.md`).toContain(time)
    }
  })

  it("quote every run's file and test counts with its time, as one entry of test/results/ci-runs.md records them", () => {
    // An entry: a paragraph of prose, or one row of a table.
    const entries = results("ci-runs.md")
      .split(/\n\s*\n/)
      .flatMap((paragraph) => (paragraph.trimStart().startsWith("|") ? paragraph.split("\n") : [paragraph]))
      .map(flat)
    const quotes = [...readme.matchAll(claims.runCounts)]
    expect(quotes.length).toBeGreaterThanOrEqual(1)
    for (const [quote, time, files, tests] of quotes) {
      const entry = entries.find(
        (text) =>
          text.includes(`**${time}**`) &&
          new RegExp(`(?<!\\d)${files} (?:test )?files\\b`).test(text) &&
          new RegExp(`(?<!\\d)${tests} tests\\b`).test(text)
      )
      expect(
        entry,
        `"${quote}": a run of test/results/ci-runs.md with **${time}**, ${files} files, ${tests} tests`
      ).toBeDefined()
    }
    // Anywhere in the README, a count of files or tests is such a quote, with its time.
    for (const count of readme.matchAll(/(?<![\w.])\d+ (?:test )?(?:files|tests)\b/g)) {
      const inQuote = quotes.some((q) => q.index <= count.index && count.index < q.index + q[0].length)
      expect(inQuote, `README's "${count[0]}" is quoted as "<time> (<N> files, <M> tests)"`).toBe(true)
    }
  })

  it("count the fault and crash test files as they are on disk", () => {
    const faultFiles = filesIn("test/e2e", /^fault-.*\.test\.ts$/)
    expect(numberOf(match(claims.faultFiles)[1] ?? ""), faultFiles.join(", ")).toBe(faultFiles.length)
    const crashFiles = filesIn("test/e2e", /^fault-crash-.*\.test\.ts$/)
    expect(numberOf(match(claims.crashRuns)[2] ?? ""), crashFiles.join(", ")).toBe(crashFiles.length)
    // Anywhere in the README, "<number> [kind of] files" is one of these two claims or a run's counts (above).
    const counted = [
      claims.faultFiles.exec(readme),
      claims.crashRuns.exec(readme),
      ...readme.matchAll(claims.runCounts)
    ]
    const numbers = `(?:\\d+|${words.join("|")})`
    for (const count of readme.matchAll(new RegExp(`(?<![\\w.])${numbers} (?:[\\w-]+ )?files\\b`, "gi"))) {
      const inClaim = counted.some((c) => c !== null && c.index <= count.index && count.index < c.index + c[0].length)
      expect(inClaim, `README's "${count[0]}" is a count this test checks`).toBe(true)
    }
  })

  it("count the kills of a crash-saga run as fault-crash-saga.test.ts plans them", () => {
    // Seeded random kills: `scene.crash(phase, n)`; kills inside saga steps: `scene.killInSteps(phase, begin,
    // [steps])`, one per step. Read from the test's syntax tree, so the count is the code's.
    const file = "test/e2e/fault-crash-saga.test.ts"
    const source = ts.createSourceFile(file, read(file), ts.ScriptTarget.Latest, true)
    const planned: Array<string> = []
    const visit = (node: ts.Node) => {
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
        const [phase, second, third] = node.arguments
        const label = phase !== undefined && ts.isStringLiteral(phase) ? phase.text : "?"
        if (node.expression.name.text === "crash" && second !== undefined) {
          expect(ts.isNumericLiteral(second), `${file}: scene.crash's count is a number literal`).toBe(true)
          planned.push(`${label} ${Number((second as ts.NumericLiteral).text)}`)
        }
        if (node.expression.name.text === "killInSteps" && third !== undefined) {
          expect(ts.isArrayLiteralExpression(third), `${file}: killInSteps's steps are an array literal`).toBe(true)
          planned.push(`${label} ${(third as ts.ArrayLiteralExpression).elements.length}`)
        }
      }
      ts.forEachChild(node, visit)
    }
    visit(source)
    const total = planned.reduce((sum, entry) => sum + Number(entry.split(" ")[1]), 0)
    expect(planned.length).toBeGreaterThan(0)
    expect(Number(match(claims.kills)[1]), `kills planned: ${planned.join(", ")}`).toBe(total)
  })

  it("quote the control plane fault's downtime and the steady state's window from the tests", () => {
    const down = /const apiserverDownSeconds = (\d+)\b/.exec(read("test/e2e/fault-crash-control-plane.test.ts"))
    expect(Number(match(claims.apiserverDown)[1])).toBe(Number(down?.[1]))
    const seconds = Number(match(claims.steadyState)[1])
    const operator = read("test/e2e/operator.test.ts")
    expect(operator).toContain(
      `a steady state of Ready instances costs no write requests from the operator over ${seconds} s`
    )
    expect(operator).toContain(`setTimeout(resolve, ${seconds}_000)`)
  })

  it("quote the ten crash runs from test/results/fault-crash-runs.md: how many, which failed, the passing times", () => {
    const [, runs, , failed, passed, low, high] = match(claims.crashRuns)
    const rows = [...results("fault-crash-runs.md").matchAll(/^\| (\d+) \| ([^|]+) \| (\d+) s \|/gm)].map((m) => ({
      run: Number(m[1]),
      passed: m[2]?.trim() === "passed",
      seconds: Number(m[3])
    }))
    expect(rows.length).toBe(numberOf(runs ?? ""))
    const failing = rows.filter((row) => !row.passed).map((row) => row.run)
    expect(failing, "the first runs failed").toEqual(rows.slice(0, numberOf(failed ?? "")).map((row) => row.run))
    const seconds = rows.filter((row) => row.passed).map((row) => row.seconds)
    expect(seconds.length).toBe(numberOf(passed ?? ""))
    expect([Math.min(...seconds), Math.max(...seconds)]).toEqual([Number(low), Number(high)])
  })

  it("quote the image's size, base and times from test/results/image-tier.md and its user from the Dockerfile", () => {
    const sizes = section("Install").match(/\d+ MB/g) ?? []
    expect(sizes.length).toBeGreaterThanOrEqual(2)
    for (const size of sizes) expect(results("image-tier.md")).toContain(`**${size}**`)
    const imageTier = results("image-tier.md")
    const [, cold, low, high] = match(claims.imageTimes)
    expect(imageTier).toContain(`**${cold}**`)
    const warm = [...imageTier.matchAll(/^\| whole tier, [^|]*\| (\d+) s \|/gm)].map((m) => Number(m[1]))
    expect(warm.length).toBeGreaterThan(0)
    for (const seconds of warm) expect(seconds, `a warm run of the image tier`).toBeGreaterThanOrEqual(Number(low))
    for (const seconds of warm) expect(seconds, `a warm run of the image tier`).toBeLessThanOrEqual(Number(high))
    expect(imageTier).toContain(`nodejs ${match(claims.imageNode)[1]}.`)
    expect(read("Dockerfile")).toMatch(new RegExp(`^USER ${match(claims.imageUser)[1]}(:|$)`, "m"))
  })

  it("name the pinned Envoy Gateway and the libraries' effect floor as the code pins them", () => {
    expect(match(claims.envoyGateway)[1]).toBe(envoyGatewayVersion)
    const floor = match(claims.effectFloor)[1]
    for (const pkg of ["core", "k8s"]) {
      const manifest = JSON.parse(read(`packages/${pkg}/package.json`)) as { peerDependencies: Record<string, string> }
      expect(manifest.peerDependencies.effect, `@convex-operator/${pkg}'s peer range of effect`).toBe(`^${floor}`)
    }
  })

  it("has no number in the Tests section that is neither a checked claim nor prose", () => {
    const covered: Array<readonly [number, number]> = []
    const cover = (pattern: RegExp) => {
      const global = new RegExp(pattern.source, pattern.flags.includes("g") ? pattern.flags : `${pattern.flags}g`)
      for (const found of tests.matchAll(global)) covered.push([found.index, found.index + found[0].length])
    }
    for (const pattern of [...Object.values(claims), ...prose]) cover(pattern)
    const numbers = new RegExp(`(?<![\\w.-])(?:v?\\d+(?:\\.\\d+)*|${words.slice(2).join("|")})(?![\\w])`, "gi")
    const unchecked = [...tests.matchAll(numbers)]
      .filter((found) => !covered.some(([start, end]) => start <= found.index && found.index < end))
      .map((found) => tests.slice(Math.max(0, found.index - 30), found.index + found[0].length + 20))
    expect(unchecked, "numbers in README's Tests section that no check in this file covers").toEqual([])
  })
})
