/**
 * `convex-operator render -f instance.yaml`: every object the operator would create for the ConvexInstances in a
 * file, as multi-document YAML (like `helm template`), without a cluster. The objects come from core's
 * `renderInstance` (over `decide`, the function the reconciler runs), so what is printed is what would be applied;
 * generated secrets print as `<generated>`.
 */
import { readFileSync } from "node:fs"
import { decodeConvexInstance, renderInstance } from "@convex-operator/core"
import { Command, Options } from "@effect/cli"
import { Console, Effect, Either, Option } from "effect"
import { parseAllDocuments } from "yaml"
import { yamlDocuments } from "../manifests.js"
import { described } from "./help.js"
import { UserError } from "./user-error.js"

export interface RenderOptions {
  /** Namespace of documents that name none; when given, a document naming another one is an error (as kubectl). */
  readonly namespace: Option.Option<string>
  /** The operator image snapshot Jobs would run. */
  readonly operatorImage: string
  /** Where the text came from, for messages. */
  readonly source: string
}

type Json = Record<string, unknown>

const isRecord = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

/** Decodes every ConvexInstance document of `text` and renders its objects; other kinds are skipped. */
export const renderManifests = (text: string, options: RenderOptions): Either.Either<string, UserError> => {
  const fail = (message: string) => Either.left(new UserError({ message }))
  const documents = parseAllDocuments(text)
  const objects: Array<unknown> = []
  let instances = 0
  for (const [index, document] of documents.entries()) {
    const at = `${options.source}#${index}`
    if (document.errors.length > 0) return fail(`${at}: not YAML: ${document.errors[0]?.message ?? ""}`)
    const object: unknown = document.toJS()
    if (!isRecord(object) || object.kind !== "ConvexInstance") continue
    instances++
    const metadata = isRecord(object.metadata) ? object.metadata : {}
    const name = typeof metadata.name === "string" ? metadata.name : "<unnamed>"
    const own = typeof metadata.namespace === "string" ? metadata.namespace : undefined
    if (own !== undefined && Option.isSome(options.namespace) && own !== options.namespace.value) {
      return fail(
        `${at} (ConvexInstance ${name}): its namespace "${own}" does not match the namespace "${options.namespace.value}" given with -n`
      )
    }
    const namespace = own ?? Option.getOrElse(options.namespace, () => "default")
    const decoded = decodeConvexInstance({ ...object, metadata: { ...metadata, namespace } })
    if (Either.isLeft(decoded)) return fail(`${at} (ConvexInstance ${name}) is invalid: ${decoded.left.message}`)
    objects.push(...renderInstance(decoded.right, { operatorImage: options.operatorImage }))
  }
  if (instances === 0) return fail(`${options.source}: no ConvexInstance in it`)
  return Either.right(yamlDocuments(objects))
}

const file = Options.text("filename").pipe(
  Options.withAlias("f"),
  Options.withDescription("YAML file with one or more ConvexInstances ('-' reads standard input).")
)
const namespace = Options.text("namespace").pipe(
  Options.withAlias("n"),
  Options.withDescription("Namespace of instances that name none (default: default)."),
  Options.optional
)
const operatorImage = Options.text("operator-image").pipe(
  Options.withDescription("The operator image snapshot Jobs run."),
  Options.withDefault("ghcr.io/icod-de/convex-operator:latest")
)

export const renderCommand = Command.make(
  "render",
  { file, namespace, operatorImage },
  ({ file, namespace, operatorImage }) =>
    Effect.gen(function* () {
      const text = yield* Effect.try({
        try: () => readFileSync(file === "-" ? 0 : file, "utf8"),
        catch: (cause) => new UserError({ message: `cannot read ${file}: ${String(cause)}` })
      })
      const source = file === "-" ? "<stdin>" : file
      const output = yield* renderManifests(text, { namespace, operatorImage, source })
      yield* Console.log(output.trimEnd())
    })
).pipe(
  Command.withDescription(
    described(
      "Print every object the operator would create for the ConvexInstances in a file (generated secrets as placeholders).",
      "convex-operator render -f examples/hello-world.yaml -n apps"
    )
  )
)
