/**
 * Every CustomResourceDefinition of the API group with the repository file its YAML is written to
 * (`npm run generate`), in apply order.
 *
 * @module
 */
import { convexBackupCrd } from "./convex-backup.js"
import { convexScheduledBackupCrd } from "./convex-scheduled-backup.js"
import { convexInstanceCrd, crdPath } from "./crd.js"

export const crds = [convexInstanceCrd, convexBackupCrd, convexScheduledBackupCrd] as const

/** The repository paths of the CRDs' YAML, relative to its root. */
export const crdFiles = crds.map((crd) => ({ crd, path: crdPath(crd.spec.names) }))
