/** `convex-operator crd`: prints the ConvexInstance CRD (`convex-operator crd | kubectl apply --server-side -f -`). */
import { Command } from "@effect/cli"
import { Console } from "effect"
import { convexInstanceCrdYaml } from "../manifests.js"

export const crdCommand = Command.make("crd", {}, () => Console.log(convexInstanceCrdYaml().trimEnd())).pipe(
  Command.withDescription("Print the ConvexInstance CustomResourceDefinition as YAML.")
)
