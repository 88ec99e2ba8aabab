import {
  backendApiPort,
  backendDataPath,
  backendImage,
  backendSiteProxyPort,
  dashboardImage,
  dashboardPort,
  isFullGitShaTag
} from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"

const sha = "33cef775a8a6228cbacee4a09ac2c4073d62ed13"

describe("images", () => {
  it("both images use the same tag, the version", () => {
    expect(backendImage(sha)).toBe(`ghcr.io/get-convex/convex-backend:${sha}`)
    expect(dashboardImage(sha)).toBe(`ghcr.io/get-convex/convex-dashboard:${sha}`)
  })

  it("an override wins, an empty one does not", () => {
    expect(backendImage(sha, "registry.local/convex-backend:x")).toBe("registry.local/convex-backend:x")
    expect(dashboardImage(sha, "registry.local/dash@sha256:abc")).toBe("registry.local/dash@sha256:abc")
    expect(backendImage(sha, "")).toBe(`ghcr.io/get-convex/convex-backend:${sha}`)
    expect(dashboardImage(sha, undefined)).toBe(`ghcr.io/get-convex/convex-dashboard:${sha}`)
  })

  it("knows the ports and the data path", () => {
    expect([backendApiPort, backendSiteProxyPort, dashboardPort]).toEqual([3210, 3211, 6791])
    expect(backendDataPath).toBe("/convex/data")
  })

  it.each([
    [sha, true],
    ["latest", false],
    [sha.slice(0, 7), false],
    [sha.toUpperCase(), false],
    [`${sha}0`, false],
    ["1.2.3", false]
  ])("isFullGitShaTag(%s) is %s", (tag, expected) => {
    expect(isFullGitShaTag(tag)).toBe(expected)
  })
})
