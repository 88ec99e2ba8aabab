/**
 * `@convex-operator/core`: the pure domain of convex-operator. No I/O and no Kubernetes client: the
 * ConvexInstance API as Effect Schema with its CRDs (`api`), Convex's own rules: admin keys, instance secrets,
 * database URLs and names (`convex`), backups and restores (`backup`), the children of an instance
 * (`renderInstance`) and `decide`, which ties them together.
 *
 * This is the public surface, covered by semantic versioning (docs/library.md). Every name is listed on purpose:
 * rendering of single kinds, status folding and upgrade plans are the operator's implementation and reach it
 * through `@convex-operator/core/internal`, which no version promise covers.
 *
 * @module
 */
export * from "./api/index.js"
export * from "./backup/index.js"
export * from "./convex/index.js"
export * from "./decide.js"
// Names of children and of the keys of the generated Secret, the label value that marks children, and the
// annotation whose change rolls the backend: what a tool needs to find and read what the operator made.
export { backupJobName } from "./render/backup-jobs.js"
// Types that `decide`'s input and output name.
export type { OperatorSettings } from "./render/context.js"
export { configHashAnnotation } from "./render/hash.js"
export { managedBy } from "./render/labels.js"
export { type ChildNames, childNames, secretKeys } from "./render/names.js"
export type { ChildObject, KubeObject } from "./render/objects.js"
export type { ProxyPolicyKind } from "./render/proxy-limits.js"
// The randomness `decide` takes (drawn before deciding, so `decide` stays pure).
export { drawEntropy, type Entropy } from "./render/secret.js"
export * from "./render-instance.js"
export type { DatabaseHolder } from "./status/database-conflicts.js"
export type { DecidedEvent } from "./status/events.js"
