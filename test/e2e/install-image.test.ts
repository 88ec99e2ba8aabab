/**
 * The container image without a container engine: the Dockerfile's build stage checked and its command run, its
 * production stage carried out in a temporary folder (test/image/production-tree.ts: npm ci --omit=dev), then the
 * app started from that tree the way the image's ENTRYPOINT does (`convex-operator` on the image's PATH) and with
 * `node <tree>/node_modules/.bin/…`.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { crdFiles } from "@convex-operator/core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildProductionTree, type ProductionTree } from "../image/production-tree.js"
import { repoRoot } from "../support/manifests.js"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-image-"))
let tree: ProductionTree
const timings: Array<string> = []

const timed = async <A>(name: string, body: () => A | Promise<A>): Promise<A> => {
  const started = Date.now()
  const result = await body()
  timings.push(`${name}: ${((Date.now() - started) / 1000).toFixed(1)}s`)
  return result
}

beforeAll(async () => {
  tree = await timed("tsc -b + production stage", () => buildProductionTree(work))
}, 150_000)

afterAll(() => {
  console.log(`[image] ${timings.join(", ")}`)
  fs.rmSync(work, { recursive: true, force: true })
})

/** Runs a command in the image's environment: PATH from its ENV, working directory /app (the tree). */
const inImage = (argv: ReadonlyArray<string>): string =>
  execFileSync(argv[0] ?? "", argv.slice(1), {
    cwd: tree.dir,
    env: { ...process.env, PATH: tree.path, NODE_ENV: "production" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 30_000
  })

describe("the image's production tree", () => {
  it("runs as a numeric non-root user with ENTRYPOINT convex-operator and CMD run", () => {
    expect(tree.user).toMatch(/^[1-9]\d*:[1-9]\d*$/)
    expect(tree.entrypoint).toEqual(["convex-operator"])
    expect(tree.cmd).toEqual(["run"])
  })

  it("holds production dependencies only, and the pinned convex CLI", () => {
    const modules = path.join(tree.dir, "node_modules")
    for (const dev of ["typescript", "vitest", "tsx", "@biomejs", "@effect/vitest"]) {
      expect(fs.existsSync(path.join(modules, dev)), dev).toBe(false)
    }
    const operator = JSON.parse(fs.readFileSync(path.join(repoRoot, "packages/operator/package.json"), "utf8")) as {
      dependencies: Record<string, string>
    }
    const pinned = operator.dependencies.convex
    if (pinned !== undefined) {
      expect(inImage(["node", path.join(modules, "convex/bin/main.js"), "--version"]).trim()).toBe(pinned)
    }
  })

  it("convex-operator --help (the ENTRYPOINT on the image's PATH) and crd start from the tree", async () => {
    const help = await timed("--help", () => inImage([...tree.entrypoint, "--help"]))
    expect(help).toContain("convex-operator")
    expect(help).toContain("run")
    const crd = await timed("crd", () =>
      inImage(["node", path.join(tree.dir, "node_modules/.bin/convex-operator"), "crd"])
    )
    const committed = crdFiles.map((file) =>
      fs.readFileSync(path.join(repoRoot, file.path), "utf8").replace(/^#.*\n/gm, "")
    )
    expect(crd).toBe(committed.join(""))
  })
})
