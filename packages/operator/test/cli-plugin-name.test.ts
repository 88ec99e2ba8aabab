/**
 * `kubectl convex`: installed as `kubectl-convex`, the CLI names itself as kubectl runs it (kubectl finds plugins by
 * that executable name), in help and errors; under any other name it is `convex-operator`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { plain } from "../src/cli/help.js"
import { invokedAs } from "../src/cli/root.js"
import { runCli } from "./support/cli-run.js"

/** Runs the CLI as started by `argv` (as `process.argv`), capturing what it prints (plain: no colours). */
const run = (argv: ReadonlyArray<string>) =>
  Effect.map(runCli(argv), ({ exit, output }) => ({ exit, output: plain(output) }))

/** The usage line: the first non-empty line under USAGE. */
const usageLine = (output: string) => /^USAGE\n\s*\n?(.*)$/m.exec(output)?.[1]?.trim()

describe("the plugin name", () => {
  it("kubectl-convex (with or without a .js/.mjs/.cjs suffix, any folder) is `kubectl convex`", () => {
    expect(invokedAs(["node", "/x/kubectl-convex"])).toBe("kubectl convex")
    expect(invokedAs(["node", "/usr/local/bin/kubectl-convex.mjs"])).toBe("kubectl convex")
    expect(invokedAs(["node", "C:\\tools\\kubectl-convex.js"])).toBe("kubectl convex")
  })

  it("any other name is `convex-operator`", () => {
    expect(invokedAs(["node", "/x/convex-operator"])).toBe("convex-operator")
    expect(invokedAs(["node", "/x/packages/operator/src/main.ts"])).toBe("convex-operator")
    expect(invokedAs(["node", "/x/kubectl-convex-old"])).toBe("convex-operator")
    expect(invokedAs(["node"])).toBe("convex-operator")
  })

  it.live("status --help as kubectl-convex: the usage line is `kubectl convex status …`", () =>
    Effect.gen(function* () {
      const { exit, output } = yield* run(["node", "/x/kubectl-convex", "status", "--help"])
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(usageLine(output)).toMatch(/^kubectl convex status /)
    })
  )

  it.live("status --help as convex-operator: the usage line is `convex-operator status …`", () =>
    Effect.gen(function* () {
      const { exit, output } = yield* run(["node", "/x/convex-operator", "status", "--help"])
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(usageLine(output)).toMatch(/^convex-operator status /)
    })
  )
})
