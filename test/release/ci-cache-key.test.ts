/**
 * The CI workflow caches the built binaries (`~/.cache/convex-operator`) under a key hashed from the files that pin
 * what goes into that folder. actions/cache never rewrites an existing key, so a pin left out of the key means a
 * changed pin keeps restoring the old cache (and every run builds the new version cold). The pin files are found
 * here, not listed by hand: every source under test/ and scripts/ that writes into the cache folder or pins a
 * version or recipe, and the go.mod templates; each must be matched by the key's `hashFiles` patterns.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { parse } from "yaml"
import { cacheRoot } from "../cluster/versions.js"
import { repoRoot } from "../support/manifests.js"

interface Step {
  readonly uses?: string
  readonly with?: Record<string, unknown>
}
interface Workflow {
  readonly jobs: Record<string, { readonly steps: ReadonlyArray<Step> }>
}

/** Every file under `dir` (repository-relative, `/`-separated), node_modules excluded. */
const filesUnder = (dir: string): ReadonlyArray<string> =>
  fs.readdirSync(path.join(repoRoot, dir), { withFileTypes: true }).flatMap((entry) => {
    const file = `${dir}/${entry.name}`
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : filesUnder(file)
    return [file]
  })

const sources = [...filesUnder("test"), ...filesUnder("scripts")]

/** Sources that put something into the cached folder or pin a version or recipe of something built or downloaded. */
const pinFiles = (): ReadonlyArray<string> =>
  sources
    .filter((file) => {
      if (file.endsWith(".tmpl")) return /(^|\/)go\.mod\.tmpl$/.test(file)
      if (!file.endsWith(".ts") || file.endsWith(".test.ts")) return false
      const text = fs.readFileSync(path.join(repoRoot, file), "utf8")
      return (
        /\bcache(?:Root|Paths)\(/.test(text) || // writes into ~/.cache/convex-operator
        /^export const \w*(?:[vV]ersions?|Recipe)\s*=\s*["'`{]/m.test(text) || // pins a version or recipe
        /^export const minimumGo\s*=/m.test(text) // the Go every build needs (GOTOOLCHAIN=local)
      )
    })
    .sort()

/**
 * Build inputs the scan above cannot see: how the Kubernetes and etcd wrapper go.mod files are rendered. (The files
 * the scan finds, e.g. test/cluster/build.ts, are not repeated here.)
 */
const recipes = ["test/cluster/go-mod.ts"]

/** A `hashFiles` pattern as a RegExp: `**` any path, `*` any name part. */
const globRegExp = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split("**")
      .map((part) =>
        part
          .split("*")
          .map((text) => text.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
          .join("[^/]*")
      )
      .join(".*")}$`
  )

const workflow = parse(fs.readFileSync(path.join(repoRoot, ".github/workflows/ci.yml"), "utf8")) as Workflow
const cacheStep = Object.values(workflow.jobs)
  .flatMap((job) => job.steps)
  .find((step) => step.uses?.startsWith("actions/cache@") && step.with?.path === "~/.cache/convex-operator")
const key = String(cacheStep?.with?.key ?? "")
const patterns = [...(/hashFiles\(([^)]*)\)/.exec(key)?.[1] ?? "").matchAll(/'([^']+)'/g)].map((m) => m[1] ?? "")

describe("the CI cache of built binaries", () => {
  it("caches the folder the builds write into", () => {
    expect(cacheStep, "ci.yml has an actions/cache step for ~/.cache/convex-operator").toBeDefined()
    const { CONVEX_OPERATOR_CACHE_DIR: _, XDG_CACHE_HOME: __, ...env } = process.env
    expect(cacheRoot(env)).toBe(path.join(os.homedir(), ".cache", "convex-operator"))
    expect(key).toMatch(/^convex-operator-binaries-\$\{\{ runner\.os \}\}-\$\{\{ hashFiles\(/)
  })

  it("finds the pin files (the scan sees every kind of build input)", () => {
    // What the scan must at least find: each tool built or downloaded into the cache.
    expect(pinFiles()).toEqual(
      expect.arrayContaining([
        "test/cluster/versions.ts", // Kubernetes, etcd, kwok, Gateway API CRDs
        "test/cluster/build.ts",
        "test/cluster/go-toolchain.ts",
        "test/cluster/go/etcd/go.mod.tmpl",
        "test/cluster/go/kubernetes/go.mod.tmpl",
        "test/cluster/seaweedfs.ts",
        "test/cluster/envoy-gateway.ts",
        "test/image/helm.ts",
        "test/image/node-base.ts",
        "test/image/podman.ts"
      ])
    )
  })

  it("is keyed by every pin file, and every pattern of the key matches a file", () => {
    const all = [...sources, ".github/workflows/ci.yml"]
    for (const pattern of patterns) {
      expect(
        all.some((file) => globRegExp(pattern).test(file)),
        `the key's pattern '${pattern}' matches a file`
      ).toBe(true)
    }
    const missing = [...pinFiles(), ...recipes].filter(
      (file) => !patterns.some((pattern) => globRegExp(pattern).test(file))
    )
    expect(missing, `pin files missing from the cache key in .github/workflows/ci.yml (${key})`).toEqual([])
  })
})
