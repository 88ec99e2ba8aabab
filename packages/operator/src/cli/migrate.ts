/**
 * `convex-operator migrate`: moves an existing self-hosted Convex deployment (docker compose, another Helm chart)
 * in. It prints, or with `--apply` creates, what that takes:
 *
 * - a Secret `<name>-old-admin-key` with the old deployment's admin key (key `ADMIN_KEY`), which the restore Job
 *   exports the old deployment with;
 * - with `--instance-secret-file`, a Secret `<name>-instance-secret` with the old `INSTANCE_SECRET` and
 *   `INSTANCE_NAME`, which the new instance keeps (`spec.backend.instanceSecretRef`), so admin keys issued before
 *   keep working; the admin key is checked against it first;
 * - the ConvexInstance, whose `spec.restore.from.deployment` exports the old deployment and imports it once before
 *   the instance reports Ready.
 *
 * The old `INSTANCE_NAME` is the part of the admin key before `|`. When the ConvexInstance gets another name,
 * `spec.backend.db.databaseName` keeps the old one (INSTANCE_NAME is that name with `_` → `-`). Secrets are
 * created, never changed: one that exists with other values stops `--apply` with a message.
 */
import { readFileSync } from "node:fs"
import {
  type ConvexInstanceEncoded,
  checkAdminKey,
  databaseNameFor,
  decodeConvexInstance,
  instanceNameProblem,
  instanceSecretProblem
} from "@convex-operator/core"
import { KubeClient, type KubeError, type KubeObject, Resource } from "@convex-operator/k8s"
import { Command, Options } from "@effect/cli"
import { Console, Effect, Either, Encoding, Option, Redacted } from "effect"
import { yamlDocuments } from "../manifests.js"
import { describeError } from "../shell/errors.js"
import { ConvexInstances } from "../shell/resources.js"
import { described } from "./help.js"
import { kubeconfigOption, namespaceOption, withKube } from "./kube-options.js"
import { UserError } from "./user-error.js"

/** The key of the old admin key in `<name>-old-admin-key`. */
export const adminKeyKey = "ADMIN_KEY"

/** What the manifests of a migration are made from. */
export interface MigrationInput {
  readonly fromUrl: string
  readonly adminKey: Redacted.Redacted<string>
  readonly instanceSecret: Option.Option<Redacted.Redacted<string>>
  readonly name: Option.Option<string>
  readonly namespace: Option.Option<string>
  readonly version: string
  readonly environment: "dev" | "prod"
}

/** The objects to create, in order (Secrets first), and notes for the user (never a secret value). */
export interface Migration {
  readonly secrets: ReadonlyArray<KubeObject>
  readonly instance: KubeObject
  readonly notes: ReadonlyArray<string>
}

const fail = (message: string) => Either.left(new UserError({ message }))

const secretObject = (name: string, namespace: Option.Option<string>, values: Record<string, string>): KubeObject =>
  ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, ...(Option.isSome(namespace) ? { namespace: namespace.value } : {}) },
    type: "Opaque",
    stringData: values
  }) as KubeObject

/** The Secrets and the ConvexInstance of a migration, checked; errors name the flag and never a secret value. */
export const migrationManifests = (input: MigrationInput): Either.Either<Migration, UserError> => {
  let url: URL
  try {
    url = new URL(input.fromUrl)
  } catch {
    return fail(
      `--from-url ${input.fromUrl}: not a URL; give the old deployment's API URL, e.g. https://convex.example.com`
    )
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return fail(`--from-url ${input.fromUrl}: use an http:// or https:// URL (the old deployment's API, port 3210)`)
  }
  if (url.username !== "" || url.password !== "") {
    return fail("--from-url: remove the user and password from the URL (the admin key is the credential)")
  }
  const adminKey = Redacted.value(input.adminKey)
  const separator = adminKey.indexOf("|")
  if (adminKey === "" || separator <= 0) {
    return fail(
      "--admin-key-file: the file does not hold an admin key (<INSTANCE_NAME>|<hex>, as generate_admin_key.sh prints)"
    )
  }
  const oldName = adminKey.slice(0, separator)
  const nameProblem = instanceNameProblem(oldName)
  if (nameProblem !== undefined) {
    return fail(`--admin-key-file: the instance name before '|' ${nameProblem}`)
  }
  const name = Option.getOrElse(input.name, () => oldName)
  const notes: Array<string> = []
  const secrets: Array<KubeObject> = [
    secretObject(`${name}-old-admin-key`, input.namespace, { [adminKeyKey]: adminKey })
  ]
  let backend: Record<string, unknown> = {}
  if (Option.isSome(input.instanceSecret)) {
    const instanceSecret = Redacted.value(input.instanceSecret.value)
    const problem = instanceSecretProblem(instanceSecret)
    if (problem !== undefined) return fail(`--instance-secret-file: the instance secret ${problem}`)
    const checked = checkAdminKey(adminKey, oldName, instanceSecret)
    if (Either.isLeft(checked)) {
      return fail(
        `--admin-key-file and --instance-secret-file do not belong together (${checked.left.message}): take both from the same deployment`
      )
    }
    const secretName = `${name}-instance-secret`
    secrets.push(secretObject(secretName, input.namespace, { INSTANCE_SECRET: instanceSecret, INSTANCE_NAME: oldName }))
    backend = {
      instanceSecretRef: { name: secretName, key: "INSTANCE_SECRET", nameKey: "INSTANCE_NAME" },
      ...(name !== oldName ? { db: { databaseName: databaseNameFor(oldName) } } : {})
    }
  } else {
    notes.push(
      "without --instance-secret-file the new instance generates its own INSTANCE_SECRET: admin keys of the old " +
        "deployment will not work on it (get the new one with: convex-operator admin-key get " +
        `${name}${Option.isSome(input.namespace) ? ` -n ${input.namespace.value}` : ""})`
    )
  }
  const instance = {
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name, ...(Option.isSome(input.namespace) ? { namespace: input.namespace.value } : {}) },
    spec: {
      environment: input.environment,
      version: input.version,
      ...(Object.keys(backend).length > 0 ? { backend } : {}),
      restore: {
        from: {
          deployment: { url: input.fromUrl, adminKeySecretRef: { name: `${name}-old-admin-key`, key: adminKeyKey } }
        }
      }
    }
  }
  const decoded = decodeConvexInstance({
    ...instance,
    metadata: { ...instance.metadata, namespace: Option.getOrElse(input.namespace, () => "default") }
  } as ConvexInstanceEncoded)
  if (Either.isLeft(decoded)) {
    return fail(`the ConvexInstance would be invalid (check --name and --version): ${decoded.left.message}`)
  }
  return Either.right({ secrets, instance, notes })
}

const readValue = (flag: string, path: string) =>
  Effect.try({
    try: () => Redacted.make(readFileSync(path === "-" ? 0 : path, "utf8").trim()),
    catch: (cause) => new UserError({ message: `${flag} ${path}: cannot read it: ${String(cause)}` })
  })

const kubeFailure = (what: string) => (error: KubeError) =>
  new UserError({ message: `${what}: ${describeError(error)}` })

const decodedData = (object: KubeObject): Record<string, string> => {
  const data = ((object as { data?: Record<string, string> }).data ?? {}) as Record<string, string>
  return Object.fromEntries(
    Object.entries(data).map(([key, value]) => [key, Either.getOrElse(Encoding.decodeBase64String(value), () => "")])
  )
}

/** Creates what does not exist; an existing Secret must hold the same values (it is never changed). */
export const applyMigration = (migration: Migration, namespace: string) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    for (const secret of migration.secrets) {
      const name = secret.metadata.name ?? ""
      const wanted = (secret as unknown as { stringData: Record<string, string> }).stringData
      const where = `Secret ${namespace}/${name}`
      const existing = yield* kube.get(Resource.Secret, name, { namespace }).pipe(
        Effect.map(Option.some),
        Effect.catchTag("NotFound", () => Effect.succeed(Option.none())),
        Effect.mapError(kubeFailure(`reading ${where}`))
      )
      if (Option.isSome(existing)) {
        const data = decodedData(existing.value)
        const same = Object.entries(wanted).every(([key, value]) => data[key] === value)
        if (!same) {
          return yield* new UserError({
            message: `${where} exists with other values and was not changed: delete it, or choose another --name`
          })
        }
        yield* Console.log(`secret/${name} unchanged`)
        continue
      }
      const data = Object.fromEntries(Object.entries(wanted).map(([key, value]) => [key, Encoding.encodeBase64(value)]))
      const { stringData: _stringData, ...rest } = secret as KubeObject & { stringData: unknown }
      yield* kube
        .create(Resource.Secret, { ...rest, metadata: { ...rest.metadata, namespace }, data } as KubeObject, {
          fieldManager: "convex-operator-cli"
        })
        .pipe(Effect.mapError(kubeFailure(`creating ${where}`)))
      yield* Console.log(`secret/${name} created`)
    }
    const name = migration.instance.metadata.name ?? ""
    const where = `ConvexInstance ${namespace}/${name}`
    const existing = yield* kube.get(ConvexInstances, name, { namespace }).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeed(Option.none())),
      Effect.mapError(kubeFailure(`reading ${where}`))
    )
    if (Option.isSome(existing)) {
      yield* Console.log(`convexinstance/${name} exists (not changed)`)
    } else {
      const instance = migration.instance
      yield* kube
        .create(ConvexInstances, { ...instance, metadata: { ...instance.metadata, namespace } } as KubeObject, {
          fieldManager: "convex-operator-cli"
        })
        .pipe(Effect.mapError(kubeFailure(`creating ${where}`)))
      yield* Console.log(`convexinstance/${name} created`)
    }
    yield* Console.log(
      `watch the export and import: kubectl get convexinstance ${name} -n ${namespace} -w (Ready once the import succeeded)`
    )
  })

const fromUrl = Options.text("from-url").pipe(
  Options.withDescription(
    "API URL of the old deployment as the restore Job in the cluster reaches it (CONVEX_CLOUD_ORIGIN of a compose " +
      "setup, or http://<service>.<namespace>.svc:3210)."
  )
)
const adminKeyFile = Options.text("admin-key-file").pipe(
  Options.withDescription(
    "File holding an admin key of the old deployment (docker compose exec backend ./generate_admin_key.sh); '-' " +
      "reads standard input. Its part before '|' is the old INSTANCE_NAME."
  )
)
const instanceSecretFile = Options.text("instance-secret-file").pipe(
  Options.withDescription(
    "File holding the old deployment's INSTANCE_SECRET (64 hex characters). The new instance keeps it, so admin " +
      "keys issued before keep working; without it the new instance gets a new secret."
  ),
  Options.optional
)
const name = Options.text("name").pipe(
  Options.withDescription("Name of the new ConvexInstance; default: the old INSTANCE_NAME."),
  Options.optional
)
// Convex's backend image records its commit as the label org.opencontainers.image.revision
// (get-convex/convex-backend self-hosted/docker-build/Dockerfile.backend), which is also its release tag.
const version = Options.text("version").pipe(
  Options.withDescription(
    "Convex version (the 40-character image tag) of the new instance: the one the old deployment runs. For an " +
      "image pulled as :latest, docker inspect --format '{{ index .Config.Labels \"org.opencontainers.image.revision\" }}' <image> prints it."
  )
)
const environment = Options.choice("environment", ["dev", "prod"]).pipe(
  Options.withDescription("spec.environment of the new instance: dev or prod (default prod)."),
  Options.withDefault("prod" as const)
)
const apply = Options.boolean("apply").pipe(
  Options.withDescription("Create the Secrets and the ConvexInstance in the cluster instead of printing them.")
)

export const migrateCommand = Command.make(
  "migrate",
  {
    fromUrl,
    adminKeyFile,
    instanceSecretFile,
    name,
    namespace: namespaceOption,
    version,
    environment,
    apply,
    kubeconfig: kubeconfigOption
  },
  (flags) =>
    Effect.gen(function* () {
      if (flags.adminKeyFile === "-" && Option.getOrUndefined(flags.instanceSecretFile) === "-") {
        return yield* new UserError({ message: "only one of --admin-key-file and --instance-secret-file can be '-'" })
      }
      const adminKey = yield* readValue("--admin-key-file", flags.adminKeyFile)
      const instanceSecret = Option.isSome(flags.instanceSecretFile)
        ? Option.some(yield* readValue("--instance-secret-file", flags.instanceSecretFile.value))
        : Option.none()
      const input = (namespace: Option.Option<string>): MigrationInput => ({
        fromUrl: flags.fromUrl,
        adminKey,
        instanceSecret,
        name: flags.name,
        namespace,
        version: flags.version,
        environment: flags.environment
      })
      if (!flags.apply) {
        const migration = yield* migrationManifests(input(flags.namespace))
        for (const note of migration.notes) yield* Console.error(`note: ${note}`)
        yield* Console.log(yamlDocuments([...migration.secrets, migration.instance]).trimEnd())
        return
      }
      yield* withKube(flags, (namespace) =>
        Effect.gen(function* () {
          const migration = yield* migrationManifests(input(Option.some(namespace)))
          for (const note of migration.notes) yield* Console.error(`note: ${note}`)
          yield* applyMigration(migration, namespace)
        })
      )
    })
).pipe(
  Command.withDescription(
    described(
      "Move an existing deployment in: print or --apply a ConvexInstance that imports it and keeps its INSTANCE_SECRET.",
      "convex-operator migrate --from-url https://convex.example.com --admin-key-file admin-key.txt " +
        "--instance-secret-file instance-secret.txt --version <40-character tag> -n apps --apply"
    )
  )
)
