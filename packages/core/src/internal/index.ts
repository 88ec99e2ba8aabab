/**
 * `@convex-operator/core/internal`: the implementation that the root does not export, for the operator's own
 * packages and tests: rendering of single kinds (`render/`), the fold of observations into status (`status/`), the
 * upgrade and restart plans (`upgrade/`), the parts of `decide`, the comparison of desired and observed objects, and
 * the Schema annotations the CRDs are generated from. Import public names from the root.
 *
 * No version promise covers this entry (docs/library.md, "Versioning"): a name here may change or go in any
 * release, a patch release included. A name that tools outside this repository need belongs in the root.
 *
 * @module
 */
export * from "../api/annotations.js"
export * from "../api/openapi.js"
export * from "../render/index.js"
export * from "./decide-events.js"
export * from "./decide-observe.js"
export * from "./decide-status.js"
export * from "./diff.js"
export * from "./status/index.js"
export * from "./upgrade/index.js"
