/**
 * The ConvexInstance API (`convex.icod.de/v1alpha1`) as Effect Schema, and the CRD derived from it.
 *
 * @module
 */
export * from "./backup-target.js"
export * from "./convex-backup.js"
export * from "./convex-instance.js"
export * from "./convex-scheduled-backup.js"
export * from "./crd.js"
export * from "./crds.js"
export * from "./cron.js"
export * from "./instance-secret-ref.js"
export * from "./kube.js"
export * from "./meta.js"
export type * from "./openapi-types.js"
export * from "./pause.js"
export * from "./primitives.js"
export * from "./proxy-settings.js"
export * from "./restore.js"
export * from "./spec.js"
export * from "./status.js"
