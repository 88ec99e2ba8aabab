/** The `convex-operator` command line: every subcommand, assembled. */
import { Command } from "@effect/cli"
import { adminKeyCommand } from "./admin-key.js"
import { crdCommand } from "./crd.js"
import { manifestsCommand } from "./manifests.js"
import { renderCommand } from "./render.js"
import { runCommand } from "./run.js"
import { snapshotCommand } from "./snapshot.js"

export const rootCommand = Command.make("convex-operator").pipe(
  Command.withDescription("Kubernetes operator for self-hosted Convex."),
  Command.withSubcommands([runCommand, crdCommand, manifestsCommand, renderCommand, adminKeyCommand, snapshotCommand])
)

/** Runs the CLI on `argv` (as `process.argv`). */
export const cli = Command.run(rootCommand, { name: "convex-operator", version: "0.1.0" })
