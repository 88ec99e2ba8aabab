/**
 * Snapshot tooling, the entrypoint of the upgrade Jobs: the bundled `convex` CLI as a service and the export,
 * import and environment save/restore steps built on it.
 *
 * @module
 */
export * from "./ConvexCli.js"
export * from "./DeploymentApi.js"
export * from "./export-expiry.js"
export * from "./operations.js"
