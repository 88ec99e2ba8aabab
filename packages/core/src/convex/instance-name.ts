/**
 * Convex's instance name (`INSTANCE_NAME`). It is written in clear at the start of every admin key, and with
 * Postgres or MySQL it names the database: `-` becomes `_`. Changing it therefore changes the database and
 * invalidates every admin key.
 *
 * The rules here are the intersection of what Convex accepts and what a database name allows: lower-case
 * letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters (Postgres
 * truncates identifiers longer than that).
 *
 * @module
 */
import { Data, Either, Schema } from "effect"

/** The instance name Convex uses when `INSTANCE_NAME` is not set. */
export const defaultInstanceName = "convex-self-hosted"

/** The longest instance name: Postgres identifiers have at most 63 bytes (MySQL allows 64). */
export const convexInstanceNameMaxLength = 63

/** Lower-case letters, digits and `-`, starting and ending with a letter or digit. */
export const instanceNamePattern: RegExp = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/

/** An instance name was rejected; the message names the problem and the fix. */
export class InvalidInstanceName extends Data.TaggedError("InvalidInstanceName")<{
  readonly name: string
  readonly reason: string
}> {
  override get message(): string {
    return `instance name ${JSON.stringify(this.name)} ${this.reason}`
  }
}

const why = (name: string): string | undefined => {
  if (name.length === 0) return `is empty: set a name such as "${defaultInstanceName}"`
  if (name.length > convexInstanceNameMaxLength) {
    return `is ${name.length} characters long: use at most ${convexInstanceNameMaxLength}, since it becomes the database name`
  }
  if (name.includes("|"))
    return "contains '|', which separates the instance name from the rest of an admin key: remove it"
  if (name.includes(":"))
    return "contains ':', which Convex reads as a prefix of an admin key's instance name: remove it"
  const hasUpper = /[A-Z]/.test(name)
  const hasUnderscore = name.includes("_")
  if (hasUpper || hasUnderscore) {
    const what = [hasUpper ? "upper-case letters" : "", hasUnderscore ? "'_'" : ""]
      .filter((s) => s !== "")
      .join(" and ")
    const suggestion = name.toLowerCase().replaceAll("_", "-")
    const fix = instanceNamePattern.test(suggestion)
      ? `use ${JSON.stringify(suggestion)}`
      : "use only lower-case letters, digits and '-'"
    const note = hasUnderscore ? " (the database name turns '-' into '_' by itself)" : ""
    return `contains ${what}: ${fix}${note}`
  }
  const bad = name.search(/[^a-z0-9-]/)
  if (bad >= 0) {
    return `contains ${JSON.stringify(name.charAt(bad))} at position ${bad + 1}: use only lower-case letters, digits and '-'`
  }
  if (name.startsWith("-") || name.endsWith("-")) return "starts or ends with '-': start and end with a letter or digit"
  return undefined
}

/** What is wrong with `name` as an instance name (a sentence naming the fix), or `undefined` when it is valid. */
export const instanceNameProblem = (name: string): string | undefined => {
  const reason = why(name)
  return reason === undefined ? undefined : new InvalidInstanceName({ name, reason }).message
}

/** Whether `name` is a valid instance name. */
export const isValidInstanceName = (name: string): boolean =>
  name.length <= convexInstanceNameMaxLength && instanceNamePattern.test(name)

/** `name` when it is a valid instance name, or the reason it is not. */
export const validateInstanceName = (name: string): Either.Either<string, InvalidInstanceName> => {
  const reason = why(name)
  return reason === undefined ? Either.right(name) : Either.left(new InvalidInstanceName({ name, reason }))
}

const problemOf = (actual: unknown): string =>
  (typeof actual === "string" ? instanceNameProblem(actual) : undefined) ?? "the instance name must be a string"

/** An instance name as an Effect Schema; a failure carries the same message as `instanceNameProblem`. */
export const InstanceName = Schema.String.pipe(
  Schema.maxLength(convexInstanceNameMaxLength, { message: (issue) => problemOf(issue.actual) }),
  Schema.pattern(instanceNamePattern, { message: (issue) => problemOf(issue.actual) })
).annotations({
  identifier: "InstanceName",
  description: "a Convex instance name: lower-case letters, digits and '-', at most 63 characters"
})

/** The Postgres/MySQL database Convex uses for an instance: its name with `-` turned into `_`. */
export const databaseNameFor = (instanceName: string): string => instanceName.replaceAll("-", "_")

/** The instance name whose database is `databaseName` (the inverse of `databaseNameFor`): `_` turned into `-`. */
export const instanceNameForDatabase = (databaseName: string): string => databaseName.replaceAll("_", "-")
