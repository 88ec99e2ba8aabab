/**
 * Cron schedules of ConvexScheduledBackups: five fields (minute hour day-of-month month day-of-week) or a
 * `@daily`-style nickname, always in UTC (no daylight-saving gaps or repeats), read with croner (a well-kept,
 * dependency-free cron library) in standard-cron mode: day-of-month and day-of-week are OR-ed as in Vixie cron and
 * Kubernetes CronJobs.
 *
 * @module
 */
import { Cron } from "croner"
import { Either } from "effect"

/** The admission check (a pattern in the CRD): five fields of cron characters, or a nickname. */
export const cronPattern =
  /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[-0-9A-Za-z*/,?]+( +[-0-9A-Za-z*/,?]+){4})$/

const nicknames: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *"
}

/** A parsed schedule: the next run strictly after a time. */
export interface CronSchedule {
  readonly expression: string
  /** The first scheduled time strictly after `after` (undefined when there is none, e.g. 30 February). */
  readonly next: (after: Date) => Date | undefined
}

/** Parses `expression`, or says what is wrong with it. */
export const parseCron = (expression: string): Either.Either<CronSchedule, string> => {
  if (!cronPattern.test(expression)) {
    return Either.left("expected five fields (minute hour day-of-month month day-of-week) or @hourly/@daily/…")
  }
  try {
    const cron = new Cron(nicknames[expression] ?? expression, { timezone: "UTC", mode: "5-part", paused: true })
    const probe = cron.nextRun(new Date(Date.UTC(2000, 0, 1)))
    if (probe === null) return Either.left("the schedule never fires")
    return Either.right({
      expression,
      next: (after) => cron.nextRun(after) ?? undefined
    })
  } catch (error) {
    return Either.left(error instanceof Error ? error.message.replace(/^CronPattern: /, "") : String(error))
  }
}
