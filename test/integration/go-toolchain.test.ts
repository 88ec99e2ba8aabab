/**
 * The Go minimum the README states is the one the builds need, the check enforces it with a clear message, and CI
 * installs exactly that minimum with a cache key over every pinned build input.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { goProblem, goSatisfies, minimumGo, parseGoVersion } from "../cluster/go-toolchain.js"
import { repoRoot } from "../support/manifests.js"

const read = (file: string) => fs.readFileSync(path.join(repoRoot, file), "utf8")

describe("the Go toolchain minimum", () => {
  it("compares Go versions as numbers, patch included", () => {
    expect(parseGoVersion("go1.26.8")).toEqual([1, 26, 8])
    expect(parseGoVersion("go1.26rc1 X:nocoverageredesign")).toEqual([1, 26, 0])
    expect(parseGoVersion("devel")).toBeUndefined()
    expect(goSatisfies("go1.26.6", "1.26.6")).toBe(true)
    expect(goSatisfies("go1.26.10", "1.26.6")).toBe(true)
    expect(goSatisfies("go1.27.0", "1.26.6")).toBe(true)
    expect(goSatisfies("go1.26.5", "1.26.6")).toBe(false)
    expect(goSatisfies("go1.24.13", "1.26.6")).toBe(false)
    expect(goSatisfies("garbage", "1.26.6")).toBe(false)
  })

  it("is at least the go line of the control plane's wrapper modules (SeaweedFS's wrapper is written with it)", () => {
    const etcd = /^go (\S+)$/m.exec(read("test/cluster/go/etcd/go.mod.tmpl"))?.[1] ?? ""
    expect(goSatisfies(`go${minimumGo}`, etcd), `etcd wrapper wants go ${etcd}`).toBe(true)
  })

  it("names the minimum and how to get it when go is not on PATH", () => {
    const problem = goProblem({ ...process.env, PATH: "/nonexistent" })
    expect(problem).toContain("go is not on PATH")
    expect(problem).toContain(`Go ${minimumGo} or newer`)
  })

  it("is what this machine's Go satisfies (else the cluster tiers could not have been built)", () => {
    expect(goProblem()).toBeUndefined()
  })

  it("is what README.md and test/cluster/README.md state and what the CI workflow installs", () => {
    expect(read("README.md")).toContain(`Go ${minimumGo}+`)
    expect(read("test/cluster/README.md")).toContain(`Go ≥ ${minimumGo}`)
    const workflow = read(".github/workflows/ci.yml")
    expect(workflow).toContain(`go-version: "${minimumGo}"`)
    // The binary cache's key covers every file that pins a build input.
    const key = /key: convex-operator-binaries-.*hashFiles\(([^)]*)\)/.exec(workflow)?.[1] ?? ""
    for (const input of [
      "test/cluster/versions.ts",
      "test/cluster/go/**",
      "test/cluster/go-mod.ts",
      "test/cluster/build.ts",
      "test/cluster/go-toolchain.ts",
      "test/cluster/seaweedfs.ts",
      "test/image/helm.ts"
    ])
      expect(key, `the CI cache key hashes ${input}`).toContain(`'${input}'`)
  })
})
