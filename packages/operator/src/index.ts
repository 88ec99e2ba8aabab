/**
 * `convex-operator`: the app. Its modules are exported for tests and for tools that embed the operator.
 *
 * @module
 */
export { cli, rootCommand } from "./cli/root.js"
export { tuningDefaults } from "./cli/tuning.js"
export * from "./manifests.js"
export * from "./monitoring/index.js"
export * from "./rbac.js"
