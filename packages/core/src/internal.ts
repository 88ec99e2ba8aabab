/**
 * `@convex-operator/core/internal`: everything of core that the root does not export, for the operator's own
 * packages and tests. No version promise covers it (docs/library.md, "Versioning"): a name here may change or go
 * in any release, a patch release included. A name that tools outside this repository need belongs in the root.
 *
 * @module
 */
export * from "./api/annotations.js"
export * from "./api/openapi.js"
export * from "./decide-events.js"
export * from "./decide-observe.js"
export * from "./decide-status.js"
export * from "./index.js"
export * from "./internal/diff.js"
export * from "./render/index.js"
export * from "./status/index.js"
export * from "./upgrade/index.js"
