/**
 * Rendering: the desired child objects of a ConvexInstance, one module per kind, as plain JSON ready for
 * server-side apply.
 *
 * @module
 */
export * from "./backend-env.js"
export * from "./backup-jobs.js"
export * from "./children.js"
export * from "./configmap.js"
export * from "./context.js"
export * from "./dashboard.js"
export * from "./diff.js"
export * from "./env-access.js"
export * from "./gateway.js"
export * from "./hash.js"
export * from "./httproute.js"
export * from "./ingress.js"
export * from "./job-security.js"
export * from "./jobs.js"
export * from "./labels.js"
export * from "./names.js"
export type * from "./objects.js"
export { objectKey } from "./objects.js"
export * from "./observed.js"
export * from "./owner.js"
export * from "./pvc.js"
export * from "./routing.js"
export * from "./s3.js"
export * from "./secret.js"
export * from "./service.js"
export * from "./statefulset.js"
export * from "./urls.js"
