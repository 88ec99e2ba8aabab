/**
 * `convex-operator render -f instance.yaml`: every object the operator would create for the ConvexInstances in a
 * file, as multi-document YAML (like `helm template`), without a cluster. The objects come from core's `decide`,
 * the same function the reconciler runs, so what is printed is what would be applied.
 *
 * Nothing secret is printed and nothing random is generated: the generated Secret's values print as
 * `<generated>`. The Secrets and ConfigMaps the instance refers to are taken to exist and hold every key it names
 * (so the backend is rendered rather than held back); values read from them into the ConfigMap print as
 * `<ConfigMap name key>`. Children carry no owner reference: the instance has no uid until it is created.
 */
import { readFileSync } from "node:fs"
import {
  type ConvexInstance,
  childNames,
  decide,
  decodeConvexInstance,
  instanceReferences,
  type Observed,
  s3ConfigMapName,
  secretKeys
} from "@convex-operator/core"
import { Command, Options } from "@effect/cli"
import { Console, Effect, Either, Option } from "effect"
import { parseAllDocuments } from "yaml"
import { yamlDocuments } from "../manifests.js"
import { UserError } from "./user-error.js"

/** How generated secret values print. */
export const generatedPlaceholder = "<generated>"

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

/** Every key of a referenced Secret or ConfigMap that rendering may read, so that none reads as missing. */
const referencedKeys = (instance: ConvexInstance) => {
  const secrets = new Map<string, Set<string>>()
  const configMaps = new Map<string, Set<string>>()
  const add = (into: Map<string, Set<string>>, name: string | undefined, key: string | undefined) => {
    if (name === undefined) return
    const keys = into.get(name) ?? new Set<string>()
    if (key !== undefined) keys.add(key)
    into.set(name, keys)
  }
  const references = instanceReferences(instance)
  for (const name of references.secrets) add(secrets, name, undefined)
  for (const name of references.configMaps) add(configMaps, name, undefined)
  const { db, s3, env } = instance.spec.backend
  if (db.engine !== "sqlite") add(secrets, db.secretRef, db.urlKey)
  if (s3.enabled && s3.secretRef !== undefined) {
    for (const key of [s3.accessKeyIdKey, s3.secretAccessKeyKey, s3.bucketKey, s3.regionKey, s3.endpointKey]) {
      add(secrets, s3.secretRef, key)
    }
    const configMap = s3ConfigMapName(s3)
    add(configMaps, configMap, s3.endpointHostKey)
    add(configMaps, configMap, s3.endpointPortKey)
    if (s3.autoDetectOBC) {
      for (const key of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) add(secrets, s3.secretRef, key)
      for (const key of ["BUCKET_NAME", "BUCKET_HOST", "BUCKET_PORT", "BUCKET_REGION"]) add(configMaps, configMap, key)
    }
  }
  for (const entry of env ?? []) {
    add(secrets, entry.valueFrom?.secretKeyRef?.name, entry.valueFrom?.secretKeyRef?.key)
    add(configMaps, entry.valueFrom?.configMapKeyRef?.name, entry.valueFrom?.configMapKeyRef?.key)
  }
  const tls = instance.spec.networking?.tlsSecretRef
  for (const key of ["tls.crt", "tls.key"]) add(secrets, tls, key)
  return { secrets, configMaps }
}

/**
 * Stand-ins for the Secrets and ConfigMaps the instance refers to. Secret values are never printed (the backend
 * reads them by reference); a database URL stand-in has the shape Convex accepts so the backend is not held back.
 */
const referencedStandIns = (instance: ConvexInstance, namespace: string): Observed["objects"] => {
  const { secrets, configMaps } = referencedKeys(instance)
  const { db } = instance.spec.backend
  const secretValue = (name: string, key: string) =>
    db.engine !== "sqlite" && name === db.secretRef && key === db.urlKey
      ? `${db.engine}://user:password@database:${db.engine === "postgres" ? 5432 : 3306}`
      : `<Secret ${name} key ${key}>`
  return [
    ...[...secrets].map(([name, keys]) => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace },
      stringData: Object.fromEntries([...keys].map((key) => [key, secretValue(name, key)]))
    })),
    ...[...configMaps].map(([name, keys]) => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace },
      data: Object.fromEntries([...keys].map((key) => [key, `<ConfigMap ${name} key ${key}>`]))
    }))
  ] as unknown as Observed["objects"]
}

/** Zero bytes: generated values are deterministic and replaced by the placeholder before printing. */
const placeholderEntropy = { instanceSecret: new Uint8Array(32), adminKeyNonce: new Uint8Array(12) }

/** Replaces every occurrence of the placeholder-entropy secrets (plain or base64) anywhere in `value`. */
const scrub = (value: unknown, secrets: ReadonlyArray<string>): unknown => {
  if (typeof value === "string") return secrets.some((secret) => value.includes(secret)) ? generatedPlaceholder : value
  if (Array.isArray(value)) return value.map((item) => scrub(item, secrets))
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, secrets)]))
  return value
}

/** The objects of one decoded instance, the generated Secret's values as placeholders. */
export const renderInstance = (instance: ConvexInstance, operatorImage: string): ReadonlyArray<unknown> => {
  const namespace = instance.metadata.namespace ?? "default"
  const decision = decide(
    instance,
    { objects: referencedStandIns(instance, namespace), entropy: placeholderEntropy },
    new Date(0),
    { operator: { image: operatorImage } }
  )
  const secretsName = childNames(instance.metadata.name ?? "").secrets
  const generated = decision.desired.find((object) => object.kind === "Secret" && object.metadata.name === secretsName)
  const values =
    generated?.kind === "Secret"
      ? Object.values(generated.data).flatMap((encoded) => [encoded, Buffer.from(encoded, "base64").toString("utf8")])
      : []
  return decision.desired.map((object) => {
    if (object === generated) {
      const { data: _data, ...rest } = object
      return {
        ...rest,
        stringData: { [secretKeys.adminKey]: generatedPlaceholder, [secretKeys.instanceSecret]: generatedPlaceholder }
      }
    }
    return scrub(object, values)
  })
}

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
    objects.push(...renderInstance(decoded.right, options.operatorImage))
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
    "Print every object the operator would create for the ConvexInstances in a file (generated secrets as placeholders)."
  )
)
