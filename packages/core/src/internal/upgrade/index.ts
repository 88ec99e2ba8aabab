/**
 * Plans: the restart plan of `maintenance.restartInterval` and the upgrade plan of version/image changes, as pure
 * state machines over status, observations and now.
 *
 * @module
 */
export * from "./backup.js"
export * from "./duration.js"
export * from "./forced-rollback.js"
export * from "./plan.js"
export * from "./restart.js"
