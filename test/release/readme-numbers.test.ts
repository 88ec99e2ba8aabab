/**
 * The README's numbers about the tests come from the code or from recorded output: counts are the lengths of the
 * lists the tests use, and times are quoted from test/results/, so a README that drifts from either fails here.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { admittedHostile } from "../e2e/support/hostile-specs.js"
import { invalidSpecs } from "../integration/admission-corpus.js"
import { repoRoot } from "../support/manifests.js"

const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8")
const section = (heading: string) => {
  const start = readme.indexOf(`### ${heading}\n`)
  expect(start, `README has a "${heading}" section`).toBeGreaterThanOrEqual(0)
  const end = readme.indexOf("\n### ", start + 4)
  return readme.slice(start, end < 0 ? undefined : end)
}
const results = (file: string) => fs.readFileSync(path.join(repoRoot, "test/results", file), "utf8")

describe("README numbers", () => {
  it("count the admission corpus and the admitted hostile specs as the tests do", () => {
    const tests = section("Tests")
    expect(tests).toContain(`${invalidSpecs.length} invalid instances`)
    expect(tests).toContain(`${admittedHostile.length} hostile specs`)
  })

  it("quote the run and build times of `npm test` and the image tier from test/results/", () => {
    const times = readme.match(/\d+ min \d+ s/g) ?? []
    expect(times.length).toBeGreaterThanOrEqual(4)
    const recorded = `${results("ci-runs.md")}\n${results("image-tier.md")}`
    for (const time of times) {
      expect(recorded, `${time} is recorded in test/results/ci-runs.md or image-tier.md`).toContain(time)
    }
  })

  it("quote the image's size from test/results/image-tier.md", () => {
    const sizes = section("Install").match(/\d+ MB/g) ?? []
    expect(sizes.length).toBeGreaterThanOrEqual(2)
    for (const size of sizes) expect(results("image-tier.md")).toContain(`**${size}**`)
  })

  it("quote the crash files' run times from test/results/fault-crash-runs.md", () => {
    const range = /passed, (\d+)–(\d+) s each/.exec(section("Tests"))
    expect(range).not.toBeNull()
    const seconds = [...results("fault-crash-runs.md").matchAll(/\| passed \| (\d+) s \|/g)].map((m) => Number(m[1]))
    expect([Math.min(...seconds), Math.max(...seconds)]).toEqual([Number(range?.[1]), Number(range?.[2])])
  })
})
