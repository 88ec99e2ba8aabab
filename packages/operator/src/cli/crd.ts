/** `convex-operator crd`: prints every CRD of the operator (`convex-operator crd | kubectl apply --server-side -f -`). */
import { Command } from "@effect/cli"
import { Console } from "effect"
import { crdsYaml } from "../manifests.js"

export const crdCommand = Command.make("crd", {}, () => Console.log(crdsYaml().trimEnd())).pipe(
  Command.withDescription(
    "Print the CustomResourceDefinitions (ConvexInstance, ConvexBackup, ConvexScheduledBackup) as YAML."
  )
)
