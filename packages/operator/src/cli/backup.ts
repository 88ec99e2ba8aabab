/**
 * `convex-operator backup` (also `kubectl convex backup` when installed as `kubectl-convex`):
 *
 * - `backup now <instance> [-n ns] [--schedule S]` creates a ConvexBackup (the target of schedule S, else the
 *   instance's backup claim) and prints its name;
 * - `backup list [-n ns | -A] [-o table|json|yaml]` lists ConvexBackups;
 * - `backup store`, `backup fetch` and `backup remove` are the steps of backup, restore and removal Jobs.
 */

import { apiVersion, backupKind, decodeConvexScheduledBackup } from "@convex-operator/core"
import { formatTime } from "@convex-operator/core/internal"
import { KubeClient, type KubeError, type KubeObject } from "@convex-operator/k8s"
import { Args, Command, Options } from "@effect/cli"
import { Clock, Console, Effect, Either, Option } from "effect"
import type { S3Object } from "../controllers/backup/transfer.js"
import { toYaml } from "../manifests.js"
import { ConvexBackups, ConvexScheduledBackups } from "../shell/backup-resources.js"
import { describeError } from "../shell/errors.js"
import { DeploymentApi } from "../snapshot/DeploymentApi.js"
import { type ExpiryOutcome, expireRecordedExport } from "../snapshot/export-expiry.js"
import { described } from "./help.js"
import { kubeconfigOption, namespaceOption, withKube } from "./kube-options.js"
import { target as backendTarget } from "./snapshot.js"
import { UserError } from "./user-error.js"

// --- Job steps --------------------------------------------------------------------------------------------------

/**
 * The file and S3 steps (the AWS SDK), loaded by the Job steps that use them only: the operator itself never needs
 * them, and loading the SDK at every start costs memory (the image's bundle keeps it in a chunk of its own).
 */
const transfer = Effect.promise(() => import("../controllers/backup/transfer.js"))

const file = Options.text("file").pipe(Options.withDescription("The snapshot ZIP."))
const location = Options.text("location").pipe(Options.withDescription("Where the ZIP is kept (for the report)."))
const bucket = Options.text("s3-bucket").pipe(Options.withDescription("The S3 bucket (S3 targets)."), Options.optional)
const key = Options.text("s3-key").pipe(
  Options.withDescription("The object key of the ZIP in the bucket."),
  Options.optional
)
const region = Options.text("s3-region").pipe(
  Options.withDescription("The bucket's region; default: us-east-1."),
  Options.withDefault("us-east-1")
)
const endpoint = Options.text("s3-endpoint").pipe(
  Options.withDescription("URL of an S3-compatible service; default: AWS S3."),
  Options.optional
)
const forcePathStyle = Options.boolean("s3-force-path-style").pipe(
  Options.withDescription(
    "Address the bucket in the path (https://host/bucket/key), as most S3-compatible services need."
  )
)
const terminationLog = Options.text("termination-log").pipe(
  Options.withDescription("Where the report goes for Kubernetes to read."),
  Options.withDefault("/dev/termination-log")
)
const s3Options = { bucket, key, region, endpoint, forcePathStyle }
const expireExport = Options.text("expire-export").pipe(
  Options.withDescription(
    "Once the ZIP is stored, expire the backend's own copy of the export named in this record (snapshot export --record); needs CONVEX_SELF_HOSTED_URL and CONVEX_SELF_HOSTED_ADMIN_KEY."
  ),
  Options.optional
)

/** Expires the recorded export; a backend that cannot be reached or named is a warning, never a failed backup. */
const expireStoredExport = (record: string): Effect.Effect<ExpiryOutcome> =>
  backendTarget.pipe(
    Effect.matchEffect({
      onFailure: (error) =>
        Effect.succeed<ExpiryOutcome>({
          warning: `the backend's copy of the export was not expired: ${error.message}`
        }),
      onSuccess: (backend) => expireRecordedExport(record).pipe(Effect.provide(DeploymentApi.layer(backend)))
    })
  )

const s3Object = (flags: {
  readonly bucket: Option.Option<string>
  readonly key: Option.Option<string>
  readonly region: string
  readonly endpoint: Option.Option<string>
  readonly forcePathStyle: boolean
}): S3Object | undefined =>
  Option.isSome(flags.bucket) && Option.isSome(flags.key)
    ? {
        bucket: flags.bucket.value,
        key: flags.key.value,
        region: flags.region,
        endpoint: Option.getOrUndefined(flags.endpoint),
        forcePathStyle: flags.forcePathStyle
      }
    : undefined

const asUserError = <A, R>(effect: Effect.Effect<A, { readonly message: string }, R>) =>
  effect.pipe(Effect.mapError((error) => new UserError({ message: error.message })))

const storeCommand = Command.make("store", { file, location, terminationLog, expireExport, ...s3Options }, (flags) =>
  asUserError(
    Effect.gen(function* () {
      const { fileSize, upload, writeTerminationMessage } = yield* transfer
      const sizeBytes = yield* fileSize(flags.file)
      const object = s3Object(flags)
      if (object !== undefined) {
        yield* Effect.logInfo(`uploading ${flags.file} (${sizeBytes} bytes) to s3://${object.bucket}/${object.key}`)
        yield* upload(flags.file, object)
      }
      // The ZIP is where the ConvexBackup says: the backend's own copy is no longer needed.
      const expiry = Option.isSome(flags.expireExport) ? yield* expireStoredExport(flags.expireExport.value) : undefined
      const report = JSON.stringify({
        sizeBytes,
        location: flags.location,
        ...(expiry !== undefined && "warning" in expiry ? { warning: expiry.warning } : {})
      })
      yield* writeTerminationMessage(flags.terminationLog, report)
      yield* Console.log(report)
    }).pipe(
      // A failure is the termination message too (the operator puts it into the backup's status).
      Effect.tapError((error) =>
        Effect.flatMap(transfer, ({ writeTerminationMessage }) =>
          writeTerminationMessage(flags.terminationLog, error.message)
        )
      )
    )
  )
).pipe(
  Command.withDescription(
    described(
      "Backup Job step: upload the ZIP (S3 targets), expire the backend's copy, and report its size and location.",
      "convex-operator backup store --file /backups/my-app.zip --location s3://backups/apps/my-app.zip --s3-bucket backups --s3-key apps/my-app.zip"
    )
  )
)

const fetchCommand = Command.make("fetch", { file, ...s3Options }, (flags) =>
  asUserError(
    Effect.gen(function* () {
      const { download, fileSize } = yield* transfer
      const object = s3Object(flags)
      if (object === undefined) return yield* Effect.fail({ message: "fetch needs --s3-bucket and --s3-key" })
      yield* Effect.logInfo(`downloading s3://${object.bucket}/${object.key} to ${flags.file}`)
      yield* download(object, flags.file)
      yield* Console.log(`${flags.file}: ${yield* fileSize(flags.file)} bytes`)
    })
  )
).pipe(
  Command.withDescription(
    described(
      "Restore Job step: download a snapshot ZIP from S3-compatible storage.",
      "convex-operator backup fetch --file /snapshot/restore.zip --s3-bucket backups --s3-key apps/my-app.zip"
    )
  )
)

const removeCommand = Command.make("remove", { file: file.pipe(Options.optional), ...s3Options }, (flags) =>
  asUserError(
    Effect.gen(function* () {
      const { removeFile, removeObject } = yield* transfer
      const object = s3Object(flags)
      if (object !== undefined) {
        yield* removeObject(object)
        return yield* Console.log(`deleted s3://${object.bucket}/${object.key}`)
      }
      if (Option.isNone(flags.file))
        return yield* Effect.fail({ message: "remove needs --file or --s3-bucket and --s3-key" })
      yield* removeFile(flags.file.value)
      yield* Console.log(`deleted ${flags.file.value}`)
    })
  )
).pipe(
  Command.withDescription(
    described(
      "Removal Job step: delete a deleted backup's ZIP (deletionPolicy Delete).",
      "convex-operator backup remove --s3-bucket backups --s3-key apps/my-app.zip"
    )
  )
)

// --- User commands ----------------------------------------------------------------------------------------------

const failure = (what: string) => (error: KubeError) => new UserError({ message: `${what}: ${describeError(error)}` })

const instanceArg = Args.text({ name: "instance" }).pipe(Args.withDescription("The ConvexInstance to back up."))
const schedule = Options.text("schedule").pipe(
  Options.withDescription("Use the target of this ConvexScheduledBackup (default: the instance's backup claim)."),
  Options.optional
)

/** `backup now`: the ConvexBackup it creates, named `<instance>-<yyyymmddhhmmss>`. */
export const manualBackup = (instance: string, ns: string, target: unknown, now: Date): KubeObject => ({
  apiVersion,
  kind: backupKind,
  metadata: {
    name: `${instance}-${formatTime(now).replace(/[-T:Z]/g, "")}`,
    namespace: ns,
    labels: { "convex.icod.de/instance": instance }
  },
  spec: { instanceRef: { name: instance }, target }
})

const nowCommand = Command.make(
  "now",
  { instance: instanceArg, namespace: namespaceOption, schedule, kubeconfig: kubeconfigOption },
  ({ instance, schedule, ...flags }) =>
    withKube(flags, (namespace) =>
      Effect.gen(function* () {
        const kube = yield* KubeClient
        let target: unknown = { pvc: {} }
        if (Option.isSome(schedule)) {
          const object = yield* kube
            .get(ConvexScheduledBackups, schedule.value, { namespace })
            .pipe(Effect.mapError(failure(`reading ConvexScheduledBackup ${namespace}/${schedule.value}`)))
          const decoded = decodeConvexScheduledBackup(object)
          if (Either.isLeft(decoded)) return yield* new UserError({ message: decoded.left.message })
          target = (object as unknown as { spec: { target: unknown } }).spec.target
        }
        const now = new Date(yield* Clock.currentTimeMillis)
        const created = yield* kube
          .create(ConvexBackups, manualBackup(instance, namespace, target, now), {
            fieldManager: "convex-operator-cli"
          })
          .pipe(Effect.mapError(failure(`creating a ConvexBackup of ${namespace}/${instance}`)))
        yield* Console.log(
          `convexbackup/${created.metadata.name} created (kubectl get convexbackup -n ${namespace} -w)`
        )
      })
    )
).pipe(
  Command.withDescription(
    described("Back up an instance now: creates a ConvexBackup.", "convex-operator backup now my-app -n apps")
  )
)

const allNamespaces = Options.boolean("all-namespaces").pipe(
  Options.withAlias("A"),
  Options.withDescription("List the backups of every namespace.")
)
const output = Options.choice("output", ["table", "json", "yaml"]).pipe(
  Options.withAlias("o"),
  Options.withDescription("Output format: table (default), json or yaml."),
  Options.withDefault("table" as const)
)

const age = (created: string | undefined, now: number): string => {
  if (created === undefined) return "<unknown>"
  const seconds = Math.max(0, Math.floor((now - new Date(created).getTime()) / 1000))
  if (seconds < 120) return `${seconds}s`
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`
  if (seconds < 172800) return `${Math.floor(seconds / 3600)}h`
  return `${Math.floor(seconds / 86400)}d`
}

/** The `backup list` table: kubectl's layout (columns padded by three spaces). */
export const backupTable = (items: ReadonlyArray<KubeObject>, withNamespace: boolean, now: number): string => {
  const rows = items.map((item) => {
    const { spec, status } = item as {
      spec?: { instanceRef?: { name?: string } }
      status?: { phase?: string; size?: string; location?: string }
    }
    return [
      ...(withNamespace ? [item.metadata.namespace ?? ""] : []),
      item.metadata.name ?? "",
      spec?.instanceRef?.name ?? "",
      status?.phase ?? "",
      status?.size ?? "",
      status?.location ?? "",
      age(item.metadata.creationTimestamp, now)
    ]
  })
  const header = [...(withNamespace ? ["NAMESPACE"] : []), "NAME", "INSTANCE", "PHASE", "SIZE", "LOCATION", "AGE"]
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)))
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd((widths[column] ?? 0) + 3)))
        .join("")
        .trimEnd()
    )
    .join("\n")
}

const listCommand = Command.make(
  "list",
  { namespace: namespaceOption, allNamespaces, output, kubeconfig: kubeconfigOption },
  ({ allNamespaces, output, ...flags }) =>
    withKube(flags, (namespace) =>
      Effect.gen(function* () {
        const kube = yield* KubeClient
        const list = yield* kube
          .listAll(ConvexBackups, allNamespaces ? {} : { namespace })
          .pipe(Effect.mapError(failure("listing ConvexBackups")))
        const items = [...list.items].sort(
          (a, b) =>
            (a.metadata.namespace ?? "").localeCompare(b.metadata.namespace ?? "") ||
            (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? "") ||
            (a.metadata.name ?? "").localeCompare(b.metadata.name ?? "")
        )
        const document = { apiVersion: "v1", kind: "List", items }
        if (output === "json") return yield* Console.log(JSON.stringify(document, null, 2))
        if (output === "yaml") return yield* Console.log(toYaml(document).trimEnd())
        if (items.length === 0) {
          return yield* Console.log(allNamespaces ? "No backups found." : `No backups found in ${namespace} namespace.`)
        }
        yield* Console.log(backupTable(items, allNamespaces, yield* Clock.currentTimeMillis))
      })
    )
).pipe(
  Command.withDescription(
    described("List ConvexBackups (-n ns, -A for all namespaces, -o json|yaml).", "convex-operator backup list -A")
  )
)

export const backupCommand = Command.make("backup").pipe(
  Command.withDescription(
    described(
      "Backups: now, list; store, fetch and remove are the steps of backup, restore and removal Jobs.",
      "convex-operator backup now my-app -n apps"
    )
  ),
  Command.withSubcommands([nowCommand, listCommand, storeCommand, fetchCommand, removeCommand])
)
