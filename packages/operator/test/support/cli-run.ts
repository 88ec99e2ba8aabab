/** Running the CLI (or any Effect that prints) in a test, with what it prints captured instead of printed. */
import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
import { cliFor } from "../../src/cli/root.js"

/**
 * Runs `effect` with the console captured: its exit, everything it printed in order (`output`), and what went to
 * `log` (`stdout`) and to `error` (`stderr`) apart.
 */
export const captureConsole = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const lines: Array<{ readonly error: boolean; readonly text: string }> = []
    const exit = yield* Effect.consoleWith((console) =>
      effect.pipe(
        Effect.withConsole({
          ...console,
          log: (...parts: ReadonlyArray<unknown>) =>
            Effect.sync(() => void lines.push({ error: false, text: parts.join(" ") })),
          error: (...parts: ReadonlyArray<unknown>) =>
            Effect.sync(() => void lines.push({ error: true, text: parts.join(" ") }))
        }),
        Effect.exit
      )
    )
    const text = (keep: (line: { readonly error: boolean }) => boolean) =>
      lines
        .filter(keep)
        .map((line) => line.text)
        .join("\n")
    return { exit, output: text(() => true), stdout: text((line) => !line.error), stderr: text((line) => line.error) }
  })

/** The CLI as started by `argv` (as `process.argv`: node, the executable, its arguments), its console captured. */
export const runCli = (argv: ReadonlyArray<string>) =>
  captureConsole(cliFor(argv)).pipe(Effect.provide(NodeContext.layer))

/** The CLI as `convex-operator <args…>`, its console captured. */
export const runConvexOperator = (...args: ReadonlyArray<string>) => runCli(["node", "convex-operator", ...args])
