/**
 * The coarse phase: Upgrading while an upgrade runs, Error when the spec cannot be served as it is (invalid
 * references, a failed upgrade), Ready when the Ready condition is True, Pending otherwise.
 *
 * @module
 */
import type { Phase } from "../../api/index.js"

/** What the phase depends on. */
export interface PhaseFacts {
  readonly upgrading: boolean
  readonly failed: boolean
  readonly ready: boolean
}

/** The phase of the status. */
export const phaseOf = (facts: PhaseFacts): Phase =>
  facts.failed ? "Error" : facts.upgrading ? "Upgrading" : facts.ready ? "Ready" : "Pending"
