/**
 * `.ci/run` runs the tests in CI mode, where a missing golden file fails the run instead of being written (vitest
 * writes new file snapshots unless CI is set): a golden file that nobody reviewed can never pass in CI.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { repoRoot } from "../support/manifests.js"

const run = promisify(execFile)

/** Runs the fixture's test with vitest in a temporary copy, with `env`; the exit code and whether it wrote the file. */
const runFixture = async (env: NodeJS.ProcessEnv) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-ci-mode-"))
  try {
    fs.copyFileSync(
      path.join(repoRoot, "test/release/fixtures/missing-golden/golden.fixture.ts"),
      path.join(dir, "golden.test.ts")
    )
    fs.writeFileSync(path.join(dir, "vitest.config.mjs"), "export default { test: { include: ['golden.test.ts'] } }\n")
    const vitest = path.join(repoRoot, "node_modules/vitest/vitest.mjs")
    const code = await run(process.execPath, [vitest, "run", "--root", dir], { cwd: dir, env, timeout: 60_000 }).then(
      () => 0,
      (error: { code?: number }) => error.code ?? -1
    )
    return { code, wrote: fs.existsSync(path.join(dir, "missing.golden.txt")) }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

describe("CI mode", () => {
  it(".ci/run sets CI=true before the tests", () => {
    const script = fs.readFileSync(path.join(repoRoot, ".ci/run"), "utf8")
    const exported = script.search(/^export CI=true$/m)
    const tests = script.search(/^npm test$/m)
    expect(exported).toBeGreaterThan(0)
    expect(tests).toBeGreaterThan(exported)
  })

  it("with CI=true a missing golden file fails the run and is not written; without CI it is written", async () => {
    const { CI: _ci, GITHUB_ACTIONS: _gha, ...local } = process.env
    expect(await runFixture({ ...local, CI: "true" })).toEqual({ code: 1, wrote: false })
    expect(await runFixture(local)).toEqual({ code: 0, wrote: true })
  })
})
