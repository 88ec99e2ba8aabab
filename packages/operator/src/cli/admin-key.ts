/**
 * `convex-operator admin-key`:
 *
 * - `admin-key get <instance> [-n ns]` prints the admin key of a running instance from its generated Secret
 *   (what self-hosters otherwise `kubectl exec … generate_admin_key.sh` for);
 * - `admin-key issue --name …` (also `admin-key --name …`) issues a Convex admin key from an instance name and
 *   secret, exactly as the backend's own `generate_admin_key.sh` would, without a running backend. The secret is
 *   read from a file, standard input or the `CONVEX_INSTANCE_SECRET` variable rather than a flag, so it never
 *   shows in `ps` or shell history.
 */

import { readFileSync } from "node:fs"
import { childNames, issueAdminKeyWith, SecretGenerator, secretKeys } from "@convex-operator/core"
import { KubeClient, type KubeError, Resource } from "@convex-operator/k8s"
import { Args, Command, Options } from "@effect/cli"
import { Config, Console, Effect, Either, Encoding, Option, Redacted } from "effect"
import { describeError } from "../shell/errors.js"
import { ConvexInstances } from "../shell/resources.js"
import { described } from "./help.js"
import { kubeconfigOption, namespaceOption, withKube } from "./kube-options.js"
import { UserError } from "./user-error.js"

const name = Options.text("name").pipe(
  Options.withDescription("The backend's INSTANCE_NAME (written in clear before the '|' of the key).")
)
const secretFile = Options.text("secret-file").pipe(
  Options.withDescription("File holding INSTANCE_SECRET (64 hex characters); '-' reads standard input."),
  Options.optional
)
const readOnly = Options.boolean("read-only").pipe(
  Options.withDescription("Issue a read-only key (queries only, no mutations or actions).")
)

const readSecret = (file: Option.Option<string>) =>
  Option.match(file, {
    onSome: (path) =>
      Effect.try({
        try: () => Redacted.make(readFileSync(path === "-" ? 0 : path, "utf8").trim()),
        catch: (cause) => new UserError({ message: `cannot read the secret file ${path}: ${String(cause)}` })
      }),
    onNone: () =>
      Config.redacted("CONVEX_INSTANCE_SECRET").pipe(
        Effect.mapError(
          () => new UserError({ message: "give --secret-file <path> (or '-') or set CONVEX_INSTANCE_SECRET" })
        )
      )
  })

const issue = (name: string, secretFile: Option.Option<string>, readOnly: boolean) =>
  Effect.gen(function* () {
    const secret = yield* readSecret(secretFile)
    const key = yield* issueAdminKeyWith({
      instanceName: name,
      instanceSecret: Redacted.value(secret),
      readOnly
    }).pipe(Effect.mapError((error) => new UserError({ message: error.message })))
    yield* Console.log(key)
  }).pipe(Effect.provide(SecretGenerator.layerLive))

const issueCommand = Command.make("issue", { name, secretFile, readOnly }, ({ name, secretFile, readOnly }) =>
  issue(name, secretFile, readOnly)
).pipe(
  Command.withDescription(
    described(
      "Issue a Convex admin key for an instance name and INSTANCE_SECRET.",
      "convex-operator admin-key issue --name my-app --secret-file instance-secret.txt"
    )
  )
)

const apiFailure = (what: string) => (error: KubeError) =>
  new UserError({
    message:
      error._tag === "Forbidden"
        ? `reading ${what} is forbidden (${error.message}): the kubeconfig's user needs get on it`
        : `reading ${what}: ${describeError(error)}`
  })

/**
 * The admin key of the instance `name` in `namespace`, read from its generated Secret. Fails with a message that
 * says what is missing and what to check; never with a secret value.
 */
export const readAdminKey = (
  name: string,
  namespace: string
): Effect.Effect<Redacted.Redacted<string>, UserError, KubeClient> =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const instance = `ConvexInstance ${namespace}/${name}`
    yield* kube.get(ConvexInstances, name, { namespace }).pipe(
      Effect.catchTag("NotFound", () =>
        Effect.fail(
          new UserError({
            message: `${instance} not found (kubectl get convexinstances -n ${namespace} lists the instances there)`
          })
        )
      ),
      Effect.mapError((error) => (error instanceof UserError ? error : apiFailure(instance)(error)))
    )
    const secretName = childNames(name).secrets
    const where = `Secret ${namespace}/${secretName}`
    const secret = yield* kube.get(Resource.Secret, secretName, { namespace }).pipe(
      Effect.catchTag("NotFound", () =>
        Effect.fail(
          new UserError({
            message: `${where} not found: the operator creates it when it reconciles ${instance}; is the operator running? (kubectl describe convexinstance ${name} -n ${namespace})`
          })
        )
      ),
      Effect.mapError((error) => (error instanceof UserError ? error : apiFailure(where)(error)))
    )
    const data = (secret as { data?: Record<string, unknown> }).data ?? {}
    const encoded = data[secretKeys.adminKey]
    const decoded = typeof encoded === "string" ? Encoding.decodeBase64String(encoded) : undefined
    if (decoded === undefined || Either.isLeft(decoded) || decoded.right === "") {
      return yield* new UserError({
        message: `${where} has no key "${secretKeys.adminKey}": the operator issues it on its next reconcile of ${instance}`
      })
    }
    return Redacted.make(decoded.right.trim())
  })

const instanceArg = Args.text({ name: "instance" }).pipe(Args.withDescription("The ConvexInstance's name."))
const getCommand = Command.make(
  "get",
  { instance: instanceArg, namespace: namespaceOption, kubeconfig: kubeconfigOption },
  ({ instance, ...flags }) =>
    withKube(flags, (namespace) =>
      Effect.flatMap(readAdminKey(instance, namespace), (key) => Console.log(Redacted.value(key)))
    )
).pipe(
  Command.withDescription(
    described(
      "Print the admin key of a running instance (from its generated Secret).",
      "convex-operator admin-key get my-app -n apps"
    )
  )
)

const optionalName = name.pipe(Options.optional)

export const adminKeyCommand = Command.make(
  "admin-key",
  { name: optionalName, secretFile, readOnly },
  ({ name, secretFile, readOnly }) =>
    Option.match(name, {
      onSome: (name) => issue(name, secretFile, readOnly),
      onNone: () =>
        Effect.fail(
          new UserError({
            message:
              "admin-key: use 'admin-key get <instance> [-n ns]' for a running instance's key, or 'admin-key issue --name <INSTANCE_NAME>' to issue one"
          })
        )
    })
).pipe(
  Command.withDescription(
    described(
      "Admin keys: get a running instance's key, or issue one from INSTANCE_SECRET.",
      "convex-operator admin-key get my-app -n apps"
    )
  ),
  Command.withSubcommands([getCommand, issueCommand])
)
