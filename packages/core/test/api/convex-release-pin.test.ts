/**
 * Every sample a user copies names one real Convex release, the one pinned in scripts/convex-release.ts: a new
 * user who applies a sample gets images that exist, and moving the pin moves every sample (`npm run generate`).
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { convexRelease, convexTags, pinConvexRelease } from "../../../../scripts/convex-release.js"
import { sampleSources } from "../../../../scripts/generated-files.js"
import { repoRoot } from "../../../../test/support/manifests.js"

const read = (path: string) => readFileSync(join(repoRoot, path), "utf8")

/** What users copy or are pointed at: the examples, kustomize's copies of them, the chart's notes and the docs. */
const samples = () => [
  ...sampleSources(),
  "config/samples/hello-world.yaml",
  "config/samples/dev-sqlite.yaml",
  "dist/chart/templates/NOTES.txt",
  "docs/library.md"
]

describe("the samples' Convex release", () => {
  it("is a full git SHA with a date and a source, not a placeholder", () => {
    expect(convexRelease.commit).toMatch(/^[0-9a-f]{40}$/)
    expect(convexRelease.commit).not.toBe("0123456789abcdef0123456789abcdef01234567")
    expect(convexRelease.date).toMatch(/^\d{4}-\d{2}-\d{2}$/)
    expect(convexRelease.source).toContain("get-convex/convex-backend")
  })

  it("is the only tag any sample carries, and every ConvexInstance sample names it", () => {
    for (const path of samples()) {
      const text = read(path)
      for (const tag of convexTags(text)) expect(tag, path).toBe(convexRelease.commit)
      if (path.endsWith(".yaml") && text.includes("kind: ConvexInstance")) {
        expect(convexTags(text).length, path).toBeGreaterThan(0)
      }
    }
    expect(convexTags(read("examples/hello-world.yaml"))).toEqual([convexRelease.commit])
  })

  it("is written over any version or Convex image tag, and nothing else", () => {
    const old = "0123456789abcdef0123456789abcdef01234567"
    const text = [
      `  version: ${old}`,
      `  spec: { environment: "dev", version: "${old}" }`,
      `    image: ghcr.io/get-convex/convex-dashboard:${old}`,
      `    image: ghcr.io/example/other:${old}`,
      `# commit ${old}`
    ].join("\n")
    expect(convexTags(text)).toEqual([old, old, old])
    const pinned = pinConvexRelease(text)
    expect(pinned.split("\n")).toEqual([
      `  version: ${convexRelease.commit}`,
      `  spec: { environment: "dev", version: "${convexRelease.commit}" }`,
      `    image: ghcr.io/get-convex/convex-dashboard:${convexRelease.commit}`,
      `    image: ghcr.io/example/other:${old}`,
      `# commit ${old}`
    ])
    expect(pinConvexRelease(pinned)).toBe(pinned)
  })
})
