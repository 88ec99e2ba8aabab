/**
 * `@convex-operator/core`: the pure domain of convex-operator. No I/O and no Kubernetes client: the
 * ConvexInstance API as Effect Schema with its CRD, Convex's own rules (admin keys, instance secrets, database
 * URLs and names), the desired child objects (`render`), status (`status`), upgrade and restart plans
 * (`upgrade`), and `decide`, which ties them together.
 *
 * @module
 */
export * from "./api/index.js"
export * from "./backup/index.js"
export * from "./convex/index.js"
export * from "./decide.js"
export * from "./decide-events.js"
export * from "./decide-observe.js"
export * from "./decide-status.js"
export * from "./render/index.js"
export * from "./render-instance.js"
export * from "./status/index.js"
export * from "./upgrade/index.js"
