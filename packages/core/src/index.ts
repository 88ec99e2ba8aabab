/**
 * `@convex-operator/core`: the pure domain of convex-operator. No I/O and no Kubernetes client: the
 * ConvexInstance API as Effect Schema with its CRDs (`api`), Convex's own rules: admin keys, instance secrets,
 * database URLs and names (`convex`), backups and restores (`backup`), the children of an instance
 * (`renderInstance`) and `decide`, which ties them together.
 *
 * This is the public surface, covered by semantic versioning (docs/library.md); every name is listed on purpose.
 * Besides the modules above it names what a tool needs to find what the operator made (the children's names, the
 * keys of the generated Secret, the `managedBy` label value, the annotation whose change rolls the backend, the
 * pause annotation (in `api`)), the randomness `decide` takes (`drawEntropy`), and the types that `decide`'s input
 * and output name. Rendering of single kinds, status and the upgrade plans are the operator's implementation:
 * `@convex-operator/core/internal`.
 *
 * @module
 */
export * from "./api/index.js"
export * from "./backup/index.js"
export * from "./convex/index.js"
export * from "./decide.js"
export type { DatabaseHolder } from "./internal/status/database-conflicts.js"
export type { DecidedEvent } from "./internal/status/events.js"
export { backupJobName } from "./render/backup-jobs.js"
export type { OperatorSettings } from "./render/context.js"
export { configHashAnnotation } from "./render/hash.js"
export { managedBy } from "./render/labels.js"
export { type ChildNames, childNames, secretKeys } from "./render/names.js"
export type { ChildObject, KubeObject } from "./render/objects.js"
export type { ProxyPolicyKind } from "./render/proxy-limits.js"
export { drawEntropy, type Entropy } from "./render/secret.js"
export * from "./render-instance.js"
export * from "./sagas.js"
