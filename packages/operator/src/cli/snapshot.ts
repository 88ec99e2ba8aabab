/**
 * `convex-operator snapshot export|import|env-save|env-restore`: the entrypoint of the upgrade Jobs (the backend
 * image has no Convex CLI). Each runs the `convex` CLI bundled with the operator against
 * `CONVEX_SELF_HOSTED_URL` with the admin key from `CONVEX_SELF_HOSTED_ADMIN_KEY`; the key is read from the
 * environment only, never from a flag, and never printed.
 */
import { readFileSync } from "node:fs"
import { KubeClient } from "@convex-operator/k8s"
import { Command, Options } from "@effect/cli"
import { Config, Effect, Layer, Option, Redacted } from "effect"
import { ConvexCli, type ConvexTarget } from "../snapshot/ConvexCli.js"
import { DeploymentApi } from "../snapshot/DeploymentApi.js"
import { recordExport } from "../snapshot/export-expiry.js"
import { exportSnapshot, importSnapshot, restoreEnv, saveEnv } from "../snapshot/operations.js"
import { described } from "./help.js"
import { kubeConfigSource, kubeconfigOption, userAgent } from "./kube-options.js"
import { UserError } from "./user-error.js"

const path = Options.text("path").pipe(Options.withDescription("The snapshot ZIP (on the snapshot volume)."))
const includeFileStorage = Options.boolean("include-file-storage").pipe(
  Options.withDescription("Export stored files too (without it they are lost on import).")
)
const record = Options.text("record").pipe(
  Options.withDescription(
    "Write which backend-side snapshot the export downloaded to this file (for `backup store --expire-export`)."
  ),
  Options.optional
)
const replaceAll = Options.boolean("replace-all").pipe(
  Options.withDescription("Replace all data of the deployment with the snapshot's tables.")
)
const secret = Options.text("secret").pipe(Options.withDescription("The Secret holding the saved variables."))
const namespace = Options.text("namespace").pipe(
  Options.withDescription("Namespace of the Secret; default: POD_NAMESPACE, the pod's own namespace, 'default'."),
  Options.withFallbackConfig(Config.string("POD_NAMESPACE")),
  Options.optional
)
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

const resolveNamespace = (given: Option.Option<string>): string =>
  Option.getOrElse(given, () => {
    try {
      return readFileSync(serviceAccountNamespace, "utf8").trim() || "default"
    } catch {
      return "default"
    }
  })

/** The backend from the Job's environment. */
export const target: Effect.Effect<ConvexTarget, UserError> = Effect.gen(function* () {
  const url = yield* Config.string("CONVEX_SELF_HOSTED_URL")
  const adminKey = yield* Config.redacted("CONVEX_SELF_HOSTED_ADMIN_KEY")
  if (Redacted.value(adminKey).trim() === "") return yield* Effect.fail("empty admin key")
  return { url, adminKey }
}).pipe(
  Effect.mapError(
    () =>
      new UserError({
        message:
          "set CONVEX_SELF_HOSTED_URL (the backend, e.g. http://<name>-backend.<ns>.svc:3210) and CONVEX_SELF_HOSTED_ADMIN_KEY"
      })
  )
)

const failures = <A, R>(effect: Effect.Effect<A, { readonly _tag: string; readonly message: string }, R>) =>
  effect.pipe(Effect.mapError((error) => new UserError({ message: `${error.message}` })))

/** The CLI and the backend's HTTP routes, both against `backend`. */
const backendLayer = (backend: ConvexTarget) => Layer.merge(ConvexCli.layerLive(backend), DeploymentApi.layer(backend))

/** Runs `step` with the CLI (and, when `kube`, a Kubernetes client). */
const withCli = <A, E extends { readonly _tag: string; readonly message: string }>(
  step: Effect.Effect<A, E, ConvexCli | DeploymentApi>
): Effect.Effect<A, UserError> =>
  Effect.flatMap(target, (backend) => failures(step).pipe(Effect.provide(backendLayer(backend))))

const withKube = <A, E extends { readonly _tag: string; readonly message: string }>(
  step: Effect.Effect<A, E, ConvexCli | DeploymentApi | KubeClient>,
  kubeconfigFile: Option.Option<string>
): Effect.Effect<A, UserError> => {
  const source = kubeConfigSource(kubeconfigFile)
  return Effect.flatMap(target, (backend) =>
    failures(step).pipe(
      Effect.provide(
        Layer.merge(
          backendLayer(backend),
          KubeClient.layerLive({ source, userAgent: userAgent("convex-operator-snapshot") })
        )
      ),
      Effect.catchTag("KubeConfigError", (error) => Effect.fail(new UserError({ message: error.message })))
    )
  )
}

const exportCommand = Command.make("export", { path, includeFileStorage, record }, (flags) =>
  withCli(
    Effect.gen(function* () {
      const { cliStderr } = yield* exportSnapshot(flags)
      if (Option.isSome(flags.record)) yield* recordExport(flags.record.value, cliStderr)
    })
  )
).pipe(
  Command.withDescription(
    described(
      "Export the deployment to a ZIP (convex export).",
      "convex-operator snapshot export --path /snapshot/before.zip --include-file-storage"
    )
  )
)

const importCommand = Command.make("import", { path, replaceAll }, (flags) => withCli(importSnapshot(flags))).pipe(
  Command.withDescription(
    described(
      "Import a ZIP into the deployment (convex import -y).",
      "convex-operator snapshot import --path /snapshot/before.zip --replace-all"
    )
  )
)

const envSaveCommand = Command.make("env-save", { secret, namespace, kubeconfig: kubeconfigOption }, (flags) =>
  withKube(saveEnv({ name: flags.secret, namespace: resolveNamespace(flags.namespace) }), flags.kubeconfig).pipe(
    Effect.asVoid
  )
).pipe(
  Command.withDescription(
    described(
      "Save the deployment's environment variables (as convex env list reads them) to a Secret.",
      "convex-operator snapshot env-save --secret my-app-saved-env --namespace apps"
    )
  )
)

const envRestoreCommand = Command.make("env-restore", { secret, namespace, kubeconfig: kubeconfigOption }, (flags) =>
  withKube(restoreEnv({ name: flags.secret, namespace: resolveNamespace(flags.namespace) }), flags.kubeconfig).pipe(
    Effect.asVoid
  )
).pipe(
  Command.withDescription(
    described(
      "Set every variable saved in a Secret on the deployment (convex env set).",
      "convex-operator snapshot env-restore --secret my-app-saved-env --namespace apps"
    )
  )
)

export const snapshotCommand = Command.make("snapshot").pipe(
  Command.withDescription(
    described(
      "Snapshot steps of upgrades, run in Jobs: export, import, env-save, env-restore.",
      "convex-operator snapshot export --path /snapshot/before.zip --include-file-storage"
    )
  ),
  Command.withSubcommands([exportCommand, importCommand, envSaveCommand, envRestoreCommand])
)
