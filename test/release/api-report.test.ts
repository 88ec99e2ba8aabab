/**
 * The public surface of each library is what its committed API report says (packages/<name>/etc/<name>.api.md):
 * a change to an exported name or signature fails here until `npm run api-report` records it, so it shows up as a
 * diff of the report in review.
 */
import { describe, expect, it } from "vitest"
import { apiReport, reportedPackages } from "../../scripts/api-report.js"

describe("API reports", () => {
  it.each(reportedPackages)("@convex-operator/%s matches its committed API report", (name) => {
    const result = apiReport(name, false)
    expect(result.errors, `API Extractor on ${name}`).toEqual([])
    expect(
      result.upToDate,
      `the public API of @convex-operator/${name} differs from ${result.report}: review the change, then run npm run api-report`
    ).toBe(true)
  })
})
