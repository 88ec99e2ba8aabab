#!/usr/bin/env node
/** The `convex-operator` executable (also `kubectl-convex`, a kubectl plugin). */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect } from "effect"
import { cliFor, invokedAs } from "./cli/root.js"

cliFor(process.argv).pipe(
  Effect.catchTag("UserError", (error) =>
    Console.error(`${invokedAs(process.argv)}: ${error.message}`).pipe(
      Effect.andThen(
        Effect.sync(() => {
          process.exitCode = 2
        })
      )
    )
  ),
  Effect.provide(NodeContext.layer),
  (effect) => NodeRuntime.runMain(effect, { disablePrettyLogger: true })
)
