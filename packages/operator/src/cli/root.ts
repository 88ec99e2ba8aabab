/** The `convex-operator` command line: every subcommand, assembled. */
import { Command } from "@effect/cli"
import { Console } from "effect"
import { operatorVersion } from "../manifests.js"
import { adminKeyCommand } from "./admin-key.js"
import { backupCommand } from "./backup.js"
import { crdCommand } from "./crd.js"
import { asksForHelp, described, helpText, resolveCommand } from "./help.js"
import { manifestsCommand } from "./manifests.js"
import { migrateCommand } from "./migrate.js"
import { renderCommand } from "./render.js"
import { runCommand } from "./run.js"
import { snapshotCommand } from "./snapshot.js"
import { statusCommand } from "./status.js"

export const rootCommand = Command.make("convex-operator").pipe(
  Command.withDescription(
    described(
      "Kubernetes operator for self-hosted Convex.",
      "convex-operator manifests | kubectl apply --server-side -f -"
    )
  ),
  Command.withSubcommands([
    runCommand,
    crdCommand,
    manifestsCommand,
    renderCommand,
    adminKeyCommand,
    statusCommand,
    migrateCommand,
    snapshotCommand,
    backupCommand
  ])
)

/**
 * Runs the CLI on `argv` (as `process.argv`) under the name `name`; `--help` prints help.ts's text, the rest is
 * @effect/cli's.
 */
const runAs = (name: string) => {
  const app = Command.run(rootCommand, { name, version: operatorVersion })
  return (argv: ReadonlyArray<string>) => {
    const args = argv.slice(2)
    return asksForHelp(args)
      ? Console.log(helpText(rootCommand.descriptor, name, resolveCommand(rootCommand.descriptor, args).path))
      : app(argv)
  }
}

/** Runs the CLI on `argv` (as `process.argv`). */
export const cli = runAs("convex-operator")

/**
 * The name the CLI was started as: `kubectl convex` when the executable is installed as `kubectl-convex` (kubectl
 * runs plugins by that name), else `convex-operator`. The commands are the same; help and errors use the name.
 */
export const invokedAs = (argv: ReadonlyArray<string>): string =>
  /^kubectl-convex(\.[cm]?js)?$/.test((argv[1] ?? "").split(/[\\/]/).pop() ?? "") ? "kubectl convex" : "convex-operator"

/** Runs the CLI under the name it was started as. */
export const cliFor = (argv: ReadonlyArray<string>) => runAs(invokedAs(argv))(argv)
