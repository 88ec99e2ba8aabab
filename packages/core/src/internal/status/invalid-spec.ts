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
import { type ConvexInstanceStatus, ConvexInstanceStatus as StatusSchema } from "../../api/index.js"
import { isSubset } from "../diff.js"
import { applyConditions, findCondition } from "./conditions.js"
import type { DecidedEvent } from "./events.js"

/** The reason of `Ready=False` for a spec that does not decode. */
export const invalidSpecReason = "InvalidSpec"

/** `path: what it expects` per issue, without the value found. */
export const describeInvalidSpec = (error: InvalidConvexInstance): string =>
  error.issues
    .map((issue) => `${issue.path || "<root>"}: ${issue.message.replace(/,? actual [\s\S]*$/, "")}`)
    .join("; ")

/** The previous status, if it decodes (an object that does not decode may carry a status that does not either). */
const previousStatus = (status: unknown): ConvexInstanceStatus =>
  Option.getOrElse(Schema.decodeUnknownOption(StatusSchema)(status ?? {}), () => ({}))

/** The status of an instance named `name` whose spec failed to decode with `error`, whether it changed, its event. */
export const invalidSpecStatus = (
  object: {
    readonly metadata: { readonly name?: string | undefined; readonly generation?: number | undefined }
    readonly status?: unknown
  },
  error: InvalidConvexInstance,
  now: Date
): {
  readonly status: ConvexInstanceStatus
  readonly changed: boolean
  readonly events: ReadonlyArray<DecidedEvent>
} => {
  const previous = previousStatus(object.status)
  const name = object.metadata.name ?? "<name>"
  const message =
    `the spec does not pass validation: ${describeInvalidSpec(error)}; correct it ` +
    `(kubectl edit convexinstance ${name}); nothing else changes until then`
  const conditions = applyConditions(
    previous.conditions,
    [{ type: "Ready", status: "False", reason: invalidSpecReason, message }],
    object.metadata.generation,
    now
  )
  const status: ConvexInstanceStatus = { ...previous, phase: "Error", conditions }
  const before = findCondition(previous.conditions, "Ready")
  const announced =
    before?.reason === invalidSpecReason && before.message === findCondition(conditions, "Ready")?.message
  return {
    status,
    changed: !(isSubset(previous, status) && isSubset(status, previous)),
    events: announced ? [] : [{ type: "Warning", reason: invalidSpecReason, action: "Validate", message }]
  }
}
