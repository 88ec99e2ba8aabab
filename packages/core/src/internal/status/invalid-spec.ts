/**
 * The status of an instance whose spec passed admission but does not decode (a rule the Schema checks and no CEL
 * rule expresses, or a CRD older than the operator): `Ready=False` with reason `InvalidSpec` naming every field and
 * what it expects, phase `Error`, announced once by a Warning event. The rest of the status stays as it was, and the
 * operator changes nothing else until the spec changes.
 *
 * Values are never repeated: a field may hold a secret (an env value), so the `actual …` part of an issue is dropped.
 *
 * @module
 */
import { Option, Schema } from "effect"
import type { InvalidConvexInstance } from "../../api/convex-instance.js"
import {
  ConvexBackupStatus as BackupStatusSchema,
  type Condition,
  type ConvexBackupStatus,
  type ConvexInstanceStatus,
  type ConvexScheduledBackupStatus,
  ConvexScheduledBackupStatus as ScheduleStatusSchema,
  ConvexInstanceStatus as StatusSchema
} from "../../api/index.js"
import { isSubset } from "../diff.js"
import { applyConditions, type ConditionType, findCondition, formatTime } from "./conditions.js"
import type { DecidedEvent } from "./events.js"

/** The reason of `Ready=False` for a spec that does not decode. */
export const invalidSpecReason = "InvalidSpec"

/** `path: what it expects` per issue, without the value found. */
export const describeInvalidSpec = (error: InvalidConvexInstance): string =>
  error.issues
    .map((issue) => `${issue.path || "<root>"}: ${issue.message.replace(/,? actual [\s\S]*$/, "")}`)
    .join("; ")

/** The previous status, if it decodes (an object that does not decode may carry a status that does not either). */
const previousOf =
  <A, I>(schema: Schema.Schema<A, I>) =>
  (status: unknown): A | Record<string, never> =>
    Option.getOrElse(Schema.decodeUnknownOption(schema)(status ?? {}), () => ({}))
const previousStatus = previousOf(StatusSchema)

/** What reporting an invalid spec comes to: the new status, whether it differs, the Warning to record (once). */
export interface InvalidSpecReport<S> {
  readonly status: S
  readonly changed: boolean
  readonly events: ReadonlyArray<DecidedEvent>
}

/** `previous` with the condition `type` False/InvalidSpec saying `message` (and `extra`), announced once. */
const reportWith = <S extends { readonly conditions?: ReadonlyArray<Condition> | undefined }>(
  previous: S,
  type: ConditionType,
  message: string,
  extra: Partial<S>,
  generation: number | undefined,
  now: Date
): InvalidSpecReport<S> => {
  const conditions = applyConditions(
    previous.conditions,
    [{ type, status: "False", reason: invalidSpecReason, message }],
    generation,
    now
  )
  const status: S = { ...previous, ...extra, conditions }
  const before = findCondition(previous.conditions, type)
  const announced = before?.reason === invalidSpecReason && before.message === findCondition(conditions, type)?.message
  return {
    status,
    changed: !(isSubset(previous, status) && isSubset(status, previous)),
    events: announced ? [] : [{ type: "Warning", reason: invalidSpecReason, action: "Validate", message }]
  }
}

interface Described {
  readonly metadata: { readonly name?: string | undefined; readonly generation?: number | undefined }
  readonly status?: unknown
}

/**
 * The status of a ConvexBackup whose spec does not decode: `Failed` for good (its spec is immutable, so it never
 * will), `Completed=False` with reason `InvalidSpec` naming each field.
 */
export const invalidBackupStatus = (
  object: Described,
  error: InvalidConvexInstance,
  now: Date
): InvalidSpecReport<ConvexBackupStatus> => {
  const previous: ConvexBackupStatus = previousOf(BackupStatusSchema)(object.status)
  // A finished backup's status is final (the CRD refuses changes): a spec that no longer decodes changes nothing.
  if (previous.phase === "Completed" || previous.phase === "Failed")
    return { status: previous, changed: false, events: [] }
  const message =
    `the spec does not pass validation: ${describeInvalidSpec(error)}; a ConvexBackup's spec cannot change: ` +
    `create a new one with the fields corrected`
  return reportWith(
    previous,
    "Completed",
    message,
    { phase: "Failed", message, finishedAt: formatTime(now) },
    object.metadata.generation,
    now
  )
}

/** The status of a ConvexScheduledBackup whose spec does not decode: `Scheduled=False`, reason `InvalidSpec`. */
export const invalidScheduleStatus = (
  object: Described,
  error: InvalidConvexInstance,
  now: Date
): InvalidSpecReport<ConvexScheduledBackupStatus> => {
  const name = object.metadata.name ?? "<name>"
  const message =
    `the spec does not pass validation: ${describeInvalidSpec(error)}; correct it ` +
    `(kubectl edit convexscheduledbackup ${name}); no backup is scheduled until then`
  return reportWith(
    previousOf(ScheduleStatusSchema)(object.status) as ConvexScheduledBackupStatus,
    "Scheduled",
    message,
    {},
    object.metadata.generation,
    now
  )
}

/** The status of an instance named `name` whose spec failed to decode with `error`, whether it changed, its event. */
export const invalidSpecStatus = (
  object: Described,
  error: InvalidConvexInstance,
  now: Date
): InvalidSpecReport<ConvexInstanceStatus> => {
  const name = object.metadata.name ?? "<name>"
  const message =
    `the spec does not pass validation: ${describeInvalidSpec(error)}; correct it ` +
    `(kubectl edit convexinstance ${name}); nothing else changes until then`
  return reportWith(
    previousStatus(object.status),
    "Ready",
    message,
    { phase: "Error" },
    object.metadata.generation,
    now
  )
}
