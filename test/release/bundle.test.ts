/**
 * The operator's bundle (scripts/bundle-operator.ts) as the image runs it: it carries `KubeConfig` of
 * @kubernetes/client-node without the package's generated API (about 1,400 model classes the operator never reads,
 * evaluated at start-up), and it still starts: `--version` answers, and `run` reads a kubeconfig through
 * `KubeConfig` (a missing file is reported as such). The cluster tiers run the same bundle against a real apiserver.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bundleOperator } from "../../scripts/bundle-operator.js"
import { repoRoot } from "../support/manifests.js"

describe("the operator bundle", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-bundle-"))
  let entry = ""
  beforeAll(async () => {
    fs.copyFileSync(path.join(repoRoot, "packages/operator/package.json"), path.join(work, "package.json"))
    entry = await bundleOperator(path.join(work, "dist"))
  }, 120_000)
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

  const code = () =>
    [entry, ...fs.readdirSync(path.join(work, "dist/chunks")).map((file) => path.join(work, "dist/chunks", file))]
      .map((file) => fs.readFileSync(file, "utf8"))
      .join("\n")

  it("holds KubeConfig without client-node's generated models and API classes", () => {
    const all = code()
    expect(all).toContain("loadFromDefault")
    // Every generated model declares a static attributeTypeMap; the generated APIs are classes like CoreV1Api.
    expect(all).not.toContain("attributeTypeMap")
    expect(all).not.toMatch(/ObjectCoreV1Api|CoreV1ApiRequestFactory/)
  })

  it("starts: --version answers, and run reports a kubeconfig it cannot read", () => {
    const version = execFileSync(process.execPath, [entry, "--version"], { encoding: "utf8" })
    const expected = JSON.parse(fs.readFileSync(path.join(repoRoot, "packages/operator/package.json"), "utf8")).version
    expect(version).toContain(expected)
    const missing = path.join(work, "no-such-kubeconfig")
    const run = spawnSync(process.execPath, [entry, "run", `--kubeconfig=${missing}`], {
      encoding: "utf8",
      timeout: 30_000
    })
    expect(run.status).not.toBe(0)
    expect(`${run.stdout}${run.stderr}`).toContain(missing)
  })
})
