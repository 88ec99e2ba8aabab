/**
 * `convex-operator status [<instance>] [-n ns | -A] [-o text|json|yaml]` (also `kubectl convex status`): one screen
 * that says whether an instance is OK and what it is doing (`status-report/`), or, without an instance or with -A,
 * one line per instance. It only reads: the instance, its data claim, the ConvexBackups and ConvexScheduledBackups
 * of its namespace, the Job or backup an upgrade waits for, and the Warning events about it. A read other than the
 * instance's that fails (e.g. forbidden) is named under "Problems" and the rest is still shown.
 */
import {
  backupKind,
  backupPlural,
  group,
  kind,
  plural,
  scheduledBackupKind,
  scheduledBackupPlural,
  version
} from "@convex-operator/core"
import { KubeClient, type KubeError, type KubeObject, Resource } from "@convex-operator/k8s"
import { Args, Command, HelpDoc, Options } from "@effect/cli"
import { Clock, Console, Effect, Option } from "effect"
import { toYaml } from "../manifests.js"
import { buildReport, dataClaimName, type StatusInputs, statusOf } from "../status-report/build.js"
import { instanceRow, renderTable } from "../status-report/table.js"
import { renderText } from "../status-report/text.js"
import { upgradeWork } from "../status-report/upgrade.js"
import { kubeconfigOption, namespaceOption, withKube } from "./kube-options.js"
import { UserError } from "./user-error.js"

const Instances = Resource.make({ group, version, kind, plural, namespaced: true })
const Backups = Resource.make({ group, version, kind: backupKind, plural: backupPlural, namespaced: true })
const Schedules = Resource.make({
  group,
  version,
  kind: scheduledBackupKind,
  plural: scheduledBackupPlural,
  namespaced: true
})

const describe = (error: KubeError): string => `${error._tag}: ${error.message}`

/** Whether to colour the text: a terminal, and NO_COLOR unset or empty (https://no-color.org). */
export const colorWanted = (isTTY: boolean | undefined, env: Readonly<Record<string, string | undefined>>): boolean =>
  isTTY === true && (env.NO_COLOR ?? "") === ""

/** A list read that may fail without failing the report: its items, or none and a problem. */
const tolerantList = (what: string, effect: Effect.Effect<{ readonly items: ReadonlyArray<KubeObject> }, KubeError>) =>
  effect.pipe(
    Effect.map((list) => ({ items: list.items, problem: undefined as string | undefined })),
    Effect.catchAll((error) =>
      Effect.succeed({ items: [] as ReadonlyArray<KubeObject>, problem: `cannot list ${what}: ${describe(error)}` })
    )
  )

/** A get that may find nothing (undefined) or fail without failing the report. */
const tolerantGet = (what: string, effect: Effect.Effect<KubeObject, KubeError>) =>
  effect.pipe(
    Effect.map((object) => ({ object: object as KubeObject | undefined, problem: undefined as string | undefined })),
    Effect.catchTag("NotFound", () => Effect.succeed({ object: undefined, problem: undefined })),
    Effect.catchAll((error) =>
      Effect.succeed({ object: undefined, problem: `cannot read ${what}: ${describe(error)}` })
    )
  )

/** Reads what the report of the instance `name` in `namespace` is built from. */
export const readStatusInputs = (name: string, namespace: string): Effect.Effect<StatusInputs, UserError, KubeClient> =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const where = `ConvexInstance ${namespace}/${name}`
    const instance = yield* kube.get(Instances, name, { namespace }).pipe(
      Effect.catchTag("NotFound", () =>
        Effect.fail(
          new UserError({
            message: `${where} not found (kubectl get convexinstances -n ${namespace} lists the instances there)`
          })
        )
      ),
      Effect.mapError((error) =>
        error instanceof UserError ? error : new UserError({ message: `reading ${where}: ${describe(error)}` })
      )
    )
    const claimName = dataClaimName(instance)
    const upgrade = statusOf(instance)?.upgrade
    const work = upgrade === undefined ? undefined : upgradeWork(name, upgrade)
    const [claim, backups, schedules, job, events] = yield* Effect.all(
      [
        tolerantGet(
          `PersistentVolumeClaim ${claimName}`,
          kube.get(Resource.PersistentVolumeClaim, claimName, { namespace })
        ),
        tolerantList("ConvexBackups", kube.listAll(Backups, { namespace })),
        tolerantList("ConvexScheduledBackups", kube.listAll(Schedules, { namespace })),
        work === undefined
          ? Effect.succeed({ object: undefined, problem: undefined })
          : tolerantGet(
              `${work.kind} ${work.name}`,
              kube.get(work.kind === "Job" ? Resource.Job : Backups, work.name, { namespace })
            ),
        tolerantList("events", kube.listAll(Resource.Event, { namespace, fieldSelector: `regarding.name=${name}` }))
      ],
      { concurrency: "unbounded" }
    )
    return {
      instance,
      claim: claim.object,
      backups: backups.items,
      schedules: schedules.items,
      upgradeWork: job.object,
      events: events.items,
      problems: [claim, backups, schedules, job, events].flatMap((read) =>
        read.problem === undefined ? [] : [read.problem]
      ),
      now: new Date(yield* Clock.currentTimeMillis)
    }
  })

type Output = "text" | "json" | "yaml"

const printStructured = (value: unknown, output: Output) =>
  Console.log(output === "json" ? JSON.stringify(value, null, 2) : toYaml(value).trimEnd())

/** The table of every instance of `namespace` (all namespaces when undefined), or its rows as data. */
const printTable = (namespace: string | undefined, output: Output) =>
  Effect.gen(function* () {
    const kube = yield* KubeClient
    const scope = namespace === undefined ? {} : { namespace }
    const instances = yield* kube
      .listAll(Instances, scope)
      .pipe(Effect.mapError((error) => new UserError({ message: `listing ConvexInstances: ${describe(error)}` })))
    // Without backups the table still prints, with LAST-BACKUP <none> and a warning on stderr.
    const backups = yield* tolerantList("ConvexBackups", kube.listAll(Backups, scope))
    const rows = instances.items.map((instance) => instanceRow(instance, backups.items))
    if (backups.problem !== undefined) yield* Console.error(`warning: ${backups.problem}`)
    if (output !== "text") return yield* printStructured({ items: rows }, output)
    if (rows.length === 0) {
      return yield* Console.log(
        namespace === undefined ? "No ConvexInstances found." : `No ConvexInstances found in ${namespace} namespace.`
      )
    }
    yield* Console.log(renderTable(rows, namespace === undefined, new Date(yield* Clock.currentTimeMillis)))
  })

const instanceArg = Args.text({ name: "instance" }).pipe(
  Args.withDescription("The ConvexInstance to report on; without it, one line per instance of the namespace."),
  Args.optional
)
const allNamespaces = Options.boolean("all-namespaces").pipe(
  Options.withAlias("A"),
  Options.withDescription(
    "One line per instance in every namespace (NAMESPACE NAME READY PHASE VERSION AGE LAST-BACKUP)."
  )
)
const output = Options.choice("output", ["text", "json", "yaml"]).pipe(
  Options.withAlias("o"),
  Options.withDescription(
    "text (coloured on a terminal unless NO_COLOR is set), or json/yaml: the same facts as data, times in RFC 3339."
  ),
  Options.withDefault("text" as const)
)

export const statusCommand = Command.make(
  "status",
  { instance: instanceArg, namespace: namespaceOption, allNamespaces, output, kubeconfig: kubeconfigOption },
  ({ instance, allNamespaces, output, ...flags }) =>
    withKube(flags, (namespace) =>
      Option.match(instance, {
        onNone: () => printTable(allNamespaces ? undefined : namespace, output),
        onSome: (name) =>
          allNamespaces
            ? Effect.fail(new UserError({ message: "status: give an instance name or -A, not both" }))
            : Effect.gen(function* () {
                const inputs = yield* readStatusInputs(name, namespace)
                const report = buildReport(inputs)
                if (output !== "text") return yield* printStructured(report, output)
                const color = colorWanted(process.stdout.isTTY, process.env)
                yield* Console.log(renderText(report, { now: inputs.now, color }))
              })
      })
    )
).pipe(
  Command.withDescription(
    // A one-line summary (what command listings show), more detail, then the examples as one paragraph.
    HelpDoc.blocks([
      HelpDoc.p("Show an instance's health and activity: Ready, versions, URLs, storage, backups, upgrade, restarts."),
      HelpDoc.p(
        "Lists every condition that is not fine with its reason, the last successful and the next scheduled backup, " +
          "an upgrade's steps with its current Job, and the newest Warning events. Without an instance (or with -A), " +
          "one line per instance."
      ),
      HelpDoc.p(
        [
          "Examples:",
          "  convex-operator status my-app -n prod",
          "  convex-operator status -A",
          "  kubectl convex status my-app -o json"
        ].join("\n")
      )
    ])
  )
)
