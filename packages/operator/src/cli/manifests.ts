/**
 * `convex-operator manifests [--image X]`: the whole installation (CRDs, Namespace, RBAC, manager Deployment) from
 * the renderer `npm run build-installer` writes `dist/install.yaml` with, so that for this version's image the
 * output is that file byte for byte. `convex-operator manifests --image X | kubectl apply --server-side -f -`
 * installs the operator running image X.
 *
 * `--without-deployment` leaves the Deployment out: what `convex-operator run` needs in a cluster when it runs
 * elsewhere as the generated ServiceAccount.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { defaultImage, installObjects, installYaml, invalidImage, yamlDocuments } from "../manifests.js"
import { described } from "./help.js"
import { UserError } from "./user-error.js"

const image = Options.text("image").pipe(
  Options.withDescription("The operator image the Deployment (and its snapshot Jobs) run."),
  Options.withDefault(defaultImage)
)

const withoutDeployment = Options.boolean("without-deployment").pipe(
  Options.withDescription("Leave out the manager Deployment: CRDs, Namespace and RBAC only.")
)

export const manifestsCommand = Command.make(
  "manifests",
  { image, withoutDeployment },
  ({ image, withoutDeployment }) =>
    Effect.gen(function* () {
      const problem = invalidImage(image)
      if (problem !== undefined) return yield* new UserError({ message: `--image: ${problem}` })
      const text = withoutDeployment
        ? yamlDocuments(installObjects(image).filter((object) => object.kind !== "Deployment"))
        : installYaml(image)
      yield* Console.log(text.trimEnd())
    })
).pipe(
  Command.withDescription(
    described(
      "Print the operator's installation as YAML: CRDs, Namespace, RBAC and Deployment.",
      "convex-operator manifests | kubectl apply --server-side -f -"
    )
  )
)
