/**
 * Status: conditions, phase and endpoints as a pure fold of observations, plus validation of references.
 *
 * @module
 */
export * from "./conditions.js"
export * from "./database-conflicts.js"
export * from "./endpoints.js"
export * from "./events.js"
export * from "./failures.js"
export * from "./invalid-spec.js"
export * from "./phase.js"
export * from "./proxy-settings.js"
export * from "./references.js"
export * from "./workloads.js"
