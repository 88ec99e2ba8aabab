#!/usr/bin/env node
/** The `convex-operator` executable. */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { cli } from "./cli/root.js"

cli(process.argv).pipe(
  Effect.catchTag("UserError", (error) =>
    Console.error(`convex-operator: ${error.message}`).pipe(
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
