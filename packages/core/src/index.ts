/**
 * `@convex-operator/core`: the pure domain of convex-operator. No I/O and no Kubernetes client: the
 * ConvexInstance API as Effect Schema with its CRD, and Convex's own rules (admin keys, instance secrets,
 * database URLs and names).
 *
 * @module
 */
export * from "./api/index.js"
export * from "./convex/index.js"
