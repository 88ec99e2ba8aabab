/**
 * The Go minimum the README states is the one the builds need (the highest `go` line of the modules the tiers
 * build), the check enforces it with a clear message, and CI installs exactly that minimum. (The CI cache key over
 * every pinned build input is test/release/ci-cache-key.test.ts.)
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { envoyGatewayVersion } from "../cluster/envoy-gateway.js"
import { goProblem, goSatisfies, minimumGo, parseGoVersion } from "../cluster/go-toolchain.js"
import { seaweedfsVersion } from "../cluster/seaweedfs.js"
import { versions } from "../cluster/versions.js"
import { helmVersion } from "../image/helm.js"
import { repoRoot } from "../support/manifests.js"

const read = (file: string) => fs.readFileSync(path.join(repoRoot, file), "utf8")

/** The Go modules the tiers build, each with the file that builds it (which must name the module). */
const builtModules = [
  { module: "go.etcd.io/etcd/server/v3", version: versions.etcd, file: "test/cluster/go/etcd/go.mod.tmpl" },
  { module: "sigs.k8s.io/kwok", version: versions.kwok, file: "test/cluster/build.ts" },
  { module: "k8s.io/kubernetes", version: versions.kubernetes, file: "test/cluster/build.ts" },
  { module: "helm.sh/helm/v3", version: helmVersion, file: "test/image/helm.ts" },
  { module: "github.com/seaweedfs/seaweedfs", version: seaweedfsVersion, file: "test/cluster/seaweedfs.ts" },
  { module: "github.com/envoyproxy/gateway", version: envoyGatewayVersion, file: "test/cluster/envoy-gateway.ts" }
] as const

/**
 * The `go` line of `module@version`'s go.mod. Read from the Go module cache, where the builds of this run's
 * globalSetups (or of an earlier run) left it; when it is not there (the binaries came from a cache, or
 * KUBEBUILDER_ASSETS, SEAWEEDFS, HELM or ENVOY_GATEWAY named them, so nothing was built), `go list -m` fetches that
 * go.mod alone from the module proxy, checked against the checksum database. Fails, naming the module, when neither
 * works: never skipped.
 */
const goLine = (module: string, version: string): { readonly go: string; readonly fetched: boolean } => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-go-line-"))
  const list = (env: NodeJS.ProcessEnv) =>
    (
      JSON.parse(
        execFileSync("go", ["list", "-m", "-json", `${module}@${version}`], {
          cwd,
          encoding: "utf8",
          env: { ...process.env, GOTOOLCHAIN: "local", GOWORK: "off", ...env },
          stdio: ["ignore", "pipe", "pipe"],
          timeout: 120_000
        })
      ) as { GoVersion?: string }
    ).GoVersion
  const stderr = (error: unknown) => String((error as { stderr?: string }).stderr ?? error).trim()
  try {
    let fetched = false
    let go: string | undefined
    try {
      go = list({ GOPROXY: "off" })
    } catch (offline) {
      try {
        go = list({})
        fetched = true
      } catch (online) {
        throw new Error(
          `the go.mod of ${module}@${version} is not in the Go module cache (${stderr(offline)}) and could not ` +
            `be fetched (${stderr(online)}); with network, \`go mod download -json ${module}@${version}\` puts it there`
        )
      }
    }
    if (go === undefined) throw new Error(`the go.mod of ${module}@${version} has no go line`)
    return { go, fetched }
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true })
  }
}

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
  })

  it("is the highest go line of the modules the tiers build (GOTOOLCHAIN=local: Go on PATH must satisfy each)", () => {
    const lines = builtModules.map(({ module, version }) => ({ module, version, ...goLine(module, version) }))
    const fetched = lines.filter((line) => line.fetched)
    if (fetched.length > 0) {
      console.log(`[go-toolchain] not in the module cache, fetched: ${fetched.map((l) => l.module).join(", ")}`)
    }
    const highest = lines.reduce((max, line) => (goSatisfies(`go${max.go}`, line.go) ? max : line))
    const table = lines.map((line) => `${line.module}@${line.version}: go ${line.go}`).join("; ")
    expect(parseGoVersion(`go${minimumGo}`), `minimumGo is the highest go line (${table})`).toEqual(
      parseGoVersion(`go${highest.go}`)
    )
  }, 600_000)

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
