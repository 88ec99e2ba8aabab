/**
 * The report as one screen of text: a label column, then the facts; colour (ANSI) only when asked for, so a pipe or
 * `NO_COLOR` gets plain text. Ages are relative to the `now` given, so a golden test fixes it.
 *
 * @module
 */
import type { BackupLine, ConditionLine, StatusReport, StepState } from "./model.js"
import { age, relative } from "./time.js"

export interface TextOptions {
  readonly now: Date
  /** ANSI colour (a terminal without NO_COLOR). */
  readonly color: boolean
}

type Paint = (text: string) => string

const ansi =
  (enabled: boolean, code: string): Paint =>
  (text) =>
    enabled && text !== "" ? `\u001b[${code}m${text}\u001b[0m` : text

const labelWidth = 14

export const renderText = (report: StatusReport, options: TextOptions): string => {
  const { now } = options
  const bold = ansi(options.color, "1")
  const green = ansi(options.color, "32")
  const red = ansi(options.color, "31")
  const yellow = ansi(options.color, "33")
  const dim = ansi(options.color, "2")
  const byStatus = (status: ConditionLine["status"]): Paint =>
    status === "True" ? green : status === "False" ? red : yellow

  const lines: Array<string> = []
  const section = (label: string, rows: ReadonlyArray<string>) => {
    rows.forEach((row, index) => {
      lines.push(`${index === 0 ? bold(label.padEnd(labelWidth)) : " ".repeat(labelWidth)}${row}`.trimEnd())
    })
  }
  const since = (time: string | undefined) => (time === undefined ? "" : dim(` (for ${age(time, now)})`))
  const explain = (condition: ConditionLine) =>
    [condition.reason, condition.message].filter((part) => part !== "").join(": ")

  section("Instance", [`${report.namespace}/${report.name}`])
  section("Ready", [
    `${byStatus(report.ready.status)(report.ready.status)}  ${explain(report.ready)}${since(report.ready.since)}`
  ])
  section("Phase", [
    `${report.phase === undefined ? dim("<none>") : report.phase === "Ready" ? green(report.phase) : report.phase === "Error" ? red(report.phase) : yellow(report.phase)}${
      report.statusCurrent ? "" : dim("  (the status is older than the spec: the operator has not caught up yet)")
    }`
  ])

  const { wanted, running } = report.version
  section("Version", [
    running === undefined
      ? `${wanted ?? "<unset>"} ${yellow("(wanted; none rolled out yet)")}`
      : running === wanted
        ? `${running} ${dim("(running, as wanted)")}`
        : `${yellow(`running ${running}`)}, wanted ${wanted ?? "<unset>"}`
  ])

  section("URLs", [
    `API        ${report.urls.api ?? dim("<unknown>")}`,
    `Site       ${report.urls.site ?? dim("<unknown>")}`,
    `Dashboard  ${report.urls.dashboard ?? dim(report.urls.dashboardNote ?? "<unknown>")}`
  ])

  const storage = report.storage
  const persistence =
    storage.persistent === undefined
      ? dim("persistence not reported yet")
      : storage.persistent
        ? green(`persistent (${storage.reason})`)
        : red(`NOT persistent (${storage.reason}): ${storage.message}`)
  const claim = storage.claim
  const claimText =
    claim === undefined
      ? undefined
      : [
          `claim ${claim.name}`,
          claim.phase === "Bound" ? green(claim.phase) : yellow(claim.phase),
          ...(claim.size !== undefined ? [claim.size] : []),
          ...(claim.storageClass !== undefined
            ? [`class ${claim.storageClass === "" ? '""' : claim.storageClass}`]
            : [])
        ].join("  ")
  section("Storage", [
    storage.volume === "claim" ? (claimText ?? "") : `emptyDir${claimText === undefined ? "" : `; ${claimText}`}`,
    persistence,
    ...(storage.retainedClaims.length > 0 ? [dim(`retained claims: ${storage.retainedClaims.join(", ")}`)] : [])
  ])

  const backupText = (backup: BackupLine) =>
    [
      backup.name,
      `${backup.phase === "Completed" ? "" : `${backup.phase === "Failed" ? red(backup.phase) : yellow(backup.phase)} `}${relative(backup.at, now)}`,
      ...(backup.size !== undefined ? [backup.size] : []),
      ...(backup.location !== undefined ? [backup.location] : []),
      ...(backup.message !== undefined && backup.phase !== "Completed" ? [backup.message] : [])
    ].join("  ")
  const backups = report.backups
  section("Backups", [
    `last successful  ${backups.lastSuccessful === undefined ? yellow("none") : backupText(backups.lastSuccessful)}`,
    ...(backups.latest !== undefined ? [`latest           ${backupText(backups.latest)}`] : []),
    `next scheduled   ${
      backups.next !== undefined
        ? `${backups.next.at} (${relative(backups.next.at, now)}, ConvexScheduledBackup ${backups.next.schedule})`
        : dim(
            backups.schedules.length === 0
              ? "none (no ConvexScheduledBackup names this instance)"
              : `none (${backups.schedules.map((schedule) => `${schedule.name}${schedule.suspended ? " suspended" : ""}`).join(", ")})`
          )
    }`
  ])

  const upgrade = report.upgrade
  const mark: Readonly<Record<StepState, string>> = {
    done: green("[done]   "),
    running: yellow("[running]"),
    failed: red("[failed] "),
    "to do": dim("[to do]  ")
  }
  section(
    "Upgrade",
    upgrade === undefined
      ? [dim("none")]
      : [
          `${upgrade.strategy} ${upgrade.from ?? "?"} -> ${upgrade.to}, started ${relative(upgrade.startedAt, now)}, attempt ${upgrade.attempt}${
            upgrade.maxAttempt !== undefined ? ` of ${upgrade.maxAttempt}` : ""
          }${upgrade.retryAt !== undefined ? `, next attempt ${relative(upgrade.retryAt, now)}` : ""}`,
          ...upgrade.steps.map((step) => `${mark[step.state]} ${step.step}`),
          ...(upgrade.job !== undefined
            ? [`current ${upgrade.job.kind} ${upgrade.job.name} (${upgrade.job.state})`]
            : upgrade.phase === "Rolling"
              ? [
                  `rolling the backend to the new images${upgrade.stepStartedAt === undefined ? "" : ` since ${relative(upgrade.stepStartedAt, now)}`}`
                ]
              : [])
        ]
  )

  const restart = report.restart
  const every = restart.interval === undefined ? "" : `every ${restart.interval}`
  section("Restart", [
    restart.state === "scheduled"
      ? `next ${restart.at} (${relative(restart.at, now)}, ${every})`
      : restart.state === "disabled"
        ? dim("disabled (spec.maintenance.restartInterval is 0s)")
        : restart.state === "due"
          ? yellow(`due now (${every})`)
          : restart.state === "paused"
            ? yellow(`held while paused (${every})`)
            : restart.state === "waiting"
              ? dim(`${every} once the backend is ready and no upgrade runs`)
              : dim("<unknown>"),
    ...(restart.last !== undefined ? [dim(`last ${restart.last} (${relative(restart.last, now)})`)] : [])
  ])

  section(
    "Conditions",
    report.conditions.length === 0
      ? [green("all others fine")]
      : report.conditions.map(
          (condition) =>
            // Every condition listed needs a look: True here is activity (an upgrade, a pause), not health.
            `${condition.type}=${(condition.status === "False" ? red : yellow)(condition.status)}  ${explain(condition)}${since(condition.since)}`
        )
  )
  section(
    "Warnings",
    report.events.length === 0
      ? [dim("no Warning events")]
      : report.events.map(
          (event) =>
            `${relative(event.at, now)}  ${yellow(event.reason)}${event.count > 1 ? ` (x${event.count})` : ""}  ${event.message}`
        )
  )
  if (report.problems.length > 0) section("Problems", report.problems.map(red))
  return lines.join("\n")
}
