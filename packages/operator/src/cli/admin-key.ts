/**
 * `convex-operator admin-key`: issues a Convex admin key from an instance name and secret, exactly as the backend's
 * own `generate_admin_key.sh` would, without a running backend. The secret is read from a file, standard input
 * or the `CONVEX_INSTANCE_SECRET` variable rather than a flag, so it never shows in `ps` or shell history.
 */
import { readFileSync } from "node:fs"
import { issueAdminKeyWith, SecretGenerator } from "@convex-operator/core"
import { Command, Options } from "@effect/cli"
import { Config, Console, Effect, Option, Redacted } from "effect"
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

export const adminKeyCommand = Command.make(
  "admin-key",
  { name, secretFile, readOnly },
  ({ name, secretFile, readOnly }) =>
    Effect.gen(function* () {
      const secret = yield* readSecret(secretFile)
      const key = yield* issueAdminKeyWith({
        instanceName: name,
        instanceSecret: Redacted.value(secret),
        readOnly
      }).pipe(Effect.mapError((error) => new UserError({ message: error.message })))
      yield* Console.log(key)
    }).pipe(Effect.provide(SecretGenerator.layerLive))
).pipe(Command.withDescription("Issue a Convex admin key for an instance name and INSTANCE_SECRET."))
