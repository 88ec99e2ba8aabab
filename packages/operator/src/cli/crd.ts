/** `convex-operator crd`: prints every CRD of the operator (`convex-operator crd | kubectl apply --server-side -f -`). */
import { Command } from "@effect/cli"
import { Console } from "effect"
import { crdsYaml } from "../manifests.js"
import { described } from "./help.js"

export const crdCommand = Command.make("crd", {}, () => Console.log(crdsYaml().trimEnd())).pipe(
  Command.withDescription(
    described(
      "Print the CustomResourceDefinitions (ConvexInstance, ConvexBackup, ConvexScheduledBackup) as YAML.",
      "convex-operator crd | kubectl apply --server-side --force-conflicts -f -"
    )
  )
)
