/**
 * `--help` of every command (the tree walked from rootCommand, so a new command is checked without more ado): only
 * our own descriptions (none of @effect/cli's generic lines), an example that runs the command, and for a command
 * with subcommands one line per subcommand, as kubectl lists them.
 */

import type { CommandDescriptor, HelpDoc } from "@effect/cli"
import { describe, expect, it } from "@effect/vitest"
import { rootCommand } from "convex-operator"
import { Effect, Exit } from "effect"
import { isLibraryLine, parameters, plain, spanText, subcommands, summaryOf } from "../src/cli/help.js"
import { runConvexOperator } from "./support/cli-run.js"

type Node = CommandDescriptor.Command<unknown>

/** Every command under (and with) `node`, as its path of names. */
const commandPaths = (
  node: Node,
  path: ReadonlyArray<string> = []
): Array<{ path: ReadonlyArray<string>; node: Node }> => [
  { path, node },
  ...subcommands(node).flatMap(([name, child]) => commandPaths(child, [...path, name]))
]

const paths = commandPaths(rootCommand.descriptor)

/** Runs the CLI with `args`, capturing what it prints (plain: no colours). */
const run = (...args: ReadonlyArray<string>) =>
  Effect.map(runConvexOperator(...args), ({ exit, output }) => ({ exit, output: plain(output) }))

/** The paragraphs of a help block, as text. */
const paragraphs = (doc: HelpDoc.HelpDoc): Array<string> =>
  doc._tag === "Sequence"
    ? [...paragraphs(doc.left), ...paragraphs(doc.right)]
    : doc._tag === "Paragraph"
      ? [spanText(doc.value)]
      : []

describe("--help", () => {
  it("walks the whole command tree (root, groups and their subcommands)", () => {
    const names = paths.map(({ path }) => path.join(" "))
    expect(names).toEqual(
      expect.arrayContaining(["", "run", "crd", "admin-key", "admin-key get", "backup store", "snapshot env-save"])
    )
  })

  for (const { path, node } of paths) {
    const command = ["convex-operator", ...path].join(" ")

    it(`${command}: every option and argument has a description of its own`, () => {
      const missing = parameters(node)
        .filter(({ help }) => paragraphs(help).every(isLibraryLine))
        .map(({ names }) => names.join(", "))
      expect(missing, `${command}: options or arguments without a description`).toEqual([])
    })

    it.live(`${command} --help: our descriptions only, and an example of the command`, () =>
      Effect.gen(function* () {
        const { exit, output } = yield* run(...path, "--help")
        expect(Exit.isSuccess(exit)).toBe(true)
        expect(output).not.toContain("A user-defined piece of text")
        for (const line of output.split("\n")) expect(isLibraryLine(line.trim()), line).toBe(false)
        expect(output.startsWith(summaryOf(node)), "starts with the command's summary").toBe(true)
        expect(summaryOf(node)).not.toBe("")
        const example = /^Examples?:\n((?: {2}.*\n?)+)/m.exec(output)
        expect(example, `${command} --help has no Example:`).not.toBeNull()
        expect(example?.[1]?.split("\n").some((line) => line.trim().startsWith(command))).toBe(true)
      })
    )

    const children = subcommands(node)
    if (children.length > 0) {
      it.live(`${command} --help lists its ${children.length} subcommands one line each`, () =>
        Effect.gen(function* () {
          const { output } = yield* run(...path, "--help")
          const section = output.split(/^COMMANDS$/m)[1] ?? ""
          const lines = section.split("\n").filter((line) => /^ {2}\S/.test(line))
          expect(lines.map((line) => line.trim().split(/\s+/)[0])).toEqual(children.map(([name]) => name))
          for (const [name, child] of children) {
            const line = lines.find((candidate) => candidate.trim().startsWith(`${name} `))
            expect(line?.endsWith(summaryOf(child)), `${name}'s line ends with its summary`).toBe(true)
            // One line, as kubectl's listings: a summary that fits a terminal beside the name.
            expect(
              summaryOf(child).length,
              `${command} ${name}: summary of ${summaryOf(child).length} characters`
            ).toBeLessThanOrEqual(120)
          }
        })
      )
    }
  }
})
