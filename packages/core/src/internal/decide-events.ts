/**
 * The events of a decision: condition transitions (see `status/events.ts` beside this file), what happened to a
 * generated Secret that existed (regenerated, adopted, a new admin key), and a periodic restart (whether data is persistent: `upgrade/data-guard.ts` beside this file). None carries a secret value.
 *
 * @module
 */
import type { Condition, ConvexInstance } from "../api/index.js"
import { childNames, secretKeys } from "../render/names.js"
import type { SecretChange } from "../render/secret.js"
import { type DecidedEvent, transitionEvents } from "./status/events.js"

/** What the events of a decision are derived from. */
export interface DecisionEventsInput {
  readonly instance: ConvexInstance
  readonly previous: ReadonlyArray<Condition> | undefined
  readonly conditions: ReadonlyArray<Condition>
  readonly secretChange: SecretChange
  readonly restartTriggered: boolean
}

/** The events to record for a decision. */
export const decisionEvents = (input: DecisionEventsInput): ReadonlyArray<DecidedEvent> => {
  const { instance, conditions } = input
  const { spec } = instance
  const names = childNames(instance.metadata.name ?? "")
  const events: Array<DecidedEvent> = [...transitionEvents(input.previous, conditions)]
  if (input.secretChange === "InstanceSecretRegenerated") {
    events.push({
      type: "Warning",
      reason: "InstanceSecretRegenerated",
      action: "Generate",
      message: `Secret "${names.secrets}" key "${secretKeys.instanceSecret}" was missing or invalid: a new instance secret was generated, which revokes every admin key issued before; a new admin key was issued`
    })
  } else if (input.secretChange === "InstanceSecretAdopted") {
    events.push({
      type: "Normal",
      reason: "InstanceSecretAdopted",
      action: "Generate",
      message: `copied the instance secret from Secret "${spec.backend.instanceSecretRef?.name ?? ""}" (spec.backend.instanceSecretRef) into Secret "${names.secrets}" and issued an admin key with it`
    })
  } else if (input.secretChange === "AdminKeyIssued") {
    events.push({
      type: "Normal",
      reason: "AdminKeyIssued",
      action: "Generate",
      message: `Secret "${names.secrets}" key "${secretKeys.adminKey}" was missing or not valid for this instance: a new admin key was issued`
    })
  }
  // A first generation ("Generated") is not announced: it is part of creating the instance, which Ready announces
  // (an event per created child is a request per instance nobody acts on). A change to secrets that existed is news.
  if (input.restartTriggered) {
    events.push({
      type: "Normal",
      reason: "RestartTriggered",
      action: "Restart",
      message: `restarting the backend: maintenance.restartInterval ${spec.maintenance.restartInterval} elapsed`
    })
  }

  return events
}
