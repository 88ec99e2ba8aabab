/**
 * The Go minimum the README states is the one the builds need (the highest `go` line of the modules the tiers
 * build), the check enforces it with a clear message, and CI installs exactly that minimum. (The CI cache key over
 * every pinned build input is test/release/ci-cache-key.test.ts.)
 *
 * The go lines come from the checked-in table builtModuleGoLines (go-toolchain.ts), never from the network. Each
 * build checks its module's entry against the real go.mod right after building it (checkBuiltGoLine); here each
 * entry whose go.mod is in the Go module cache is checked again, and the output names the entries that rest on the
 * table (a warm run whose binaries came from a cache: they were checked when built, and the CI cache key covers the
 * pins and the table, so a changed pin or entry means a cold build that checks).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { envoyGatewayVersion } from "../cluster/envoy-gateway.js"
import {
  builtModuleGoLines,
  cachedGoModPath,
  goLineMismatch,
  goLineTable,
  goProblem,
  goSatisfies,
  minimumGo,
  parseGoVersion
} from "../cluster/go-toolchain.js"
import { seaweedfsVersion } from "../cluster/seaweedfs.js"
import { versions } from "../cluster/versions.js"
import { helmVersion } from "../image/helm.js"
import { repoRoot } from "../support/manifests.js"

const read = (file: string) => fs.readFileSync(path.join(repoRoot, file), "utf8")

/**
 * The Go modules the tiers build: `file` names the module, `builtBy` builds it (and calls checkBuiltGoLine right
 * after).
 */
const builtModules = [
  {
    module: "go.etcd.io/etcd/server/v3",
    version: versions.etcd,
    file: "test/cluster/go/etcd/go.mod.tmpl",
    builtBy: "test/cluster/build.ts"
  },
  {
    module: "sigs.k8s.io/kwok",
    version: versions.kwok,
    file: "test/cluster/build.ts",
    builtBy: "test/cluster/build.ts"
  },
  {
    module: "k8s.io/kubernetes",
    version: versions.kubernetes,
    file: "test/cluster/build.ts",
    builtBy: "test/cluster/build.ts"
  },
  { module: "helm.sh/helm/v3", version: helmVersion, file: "test/image/helm.ts", builtBy: "test/image/helm.ts" },
  {
    module: "github.com/seaweedfs/seaweedfs",
    version: seaweedfsVersion,
    file: "test/cluster/seaweedfs.ts",
    builtBy: "test/cluster/seaweedfs.ts"
  },
  {
    module: "github.com/envoyproxy/gateway",
    version: envoyGatewayVersion,
    file: "test/cluster/envoy-gateway.ts",
    builtBy: "test/cluster/envoy-gateway.ts"
  }
] as const

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

  it("lists every module the tiers build with Go, as the files that build them name it", () => {
    for (const { module, file } of builtModules) expect(read(file), `${file} builds ${module}`).toContain(module)
    // Every file that builds with Go checks the toolchain first (requireGo, or goSatisfies in build.ts): each one
    // is the file of a listed module, so a new Go build cannot stay out of the list.
    const building = ["test/cluster", "test/image", "scripts"]
      .flatMap((dir) => fs.readdirSync(path.join(repoRoot, dir)).map((name) => `${dir}/${name}`))
      .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts") && !file.endsWith("go-toolchain.ts"))
      .filter((file) => /\b(?:requireGo|goSatisfies)\(/.test(read(file)))
    expect(building.length).toBeGreaterThan(0)
    const listed = new Set<string>(builtModules.map(({ file }) => file))
    for (const file of building) {
      expect(listed.has(file), `${file} builds with Go: its module belongs in builtModules`).toBe(true)
    }
    // Each file that builds checks the go line of every module it builds, right after building it: a call of
    // checkBuiltGoLine (or build.ts's goLineChecked) whose first argument is the module, as a literal or a const.
    for (const { module, builtBy } of builtModules) {
      const text = read(builtBy)
      const checked = [...text.matchAll(/\b(?:checkBuiltGoLine|goLineChecked)\(\s*(?:"([^"]+)"|(\w+))/g)].map(
        ([, literal, name]) => literal ?? new RegExp(`\\bconst ${name} = "([^"]+)"`).exec(text)?.[1]
      )
      expect(
        checked,
        `${builtBy} checks the go line of ${module} right after building it (checkBuiltGoLine)`
      ).toContain(module)
    }
  })

  it("has a go line in its table for each module the tiers build, at its pinned version, and no other", () => {
    const pinned = builtModules.map(({ module, version }) => `${module}@${version}`).sort()
    expect(Object.keys(builtModuleGoLines).sort(), `${goLineTable} lists the pinned module versions`).toEqual(pinned)
    for (const [key, go] of Object.entries(builtModuleGoLines)) {
      expect(parseGoVersion(`go${go}`), `${key}: go ${go} is a Go version`).toBeDefined()
    }
  })

  it("is the highest go line in its table (GOTOOLCHAIN=local: Go on PATH must satisfy each)", () => {
    const lines = Object.entries(builtModuleGoLines)
    const highest = lines.reduce((max, line) => (goSatisfies(`go${max[1]}`, line[1]) ? max : line))
    const table = lines.map(([key, go]) => `${key}: go ${go}`).join("; ")
    expect(parseGoVersion(`go${minimumGo}`), `minimumGo is the highest go line of ${goLineTable} (${table})`).toEqual(
      parseGoVersion(`go${highest[1]}`)
    )
  })

  it("has in its table the real go line of each module whose go.mod is in the Go module cache (no network)", () => {
    const verified: Array<string> = []
    const onTable: Array<string> = []
    for (const { module, version } of builtModules) {
      const file = cachedGoModPath(module, version)
      const key = `${module}@${version}`
      if (!fs.existsSync(file)) {
        onTable.push(`${key}: go ${builtModuleGoLines[key]}`)
        continue
      }
      const problem = goLineMismatch(module, version, fs.readFileSync(file, "utf8"), file)
      expect(problem, `${key}: its entry in ${goLineTable} is its go.mod's go line`).toBeUndefined()
      verified.push(`${key}: go ${builtModuleGoLines[key]}`)
    }
    console.log(
      `[go-toolchain] go lines checked against go.mod in the Go module cache: ${verified.join("; ") || "none"}`
    )
    console.log(
      `[go-toolchain] go.mod not in the Go module cache (binaries from a cache or given), so resting on ${goLineTable}, ` +
        `checked when each binary was built (the CI cache key covers the pins and the table): ${onTable.join("; ") || "none"}`
    )
    expect(verified.length + onTable.length).toBe(builtModules.length)
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
  })
})
