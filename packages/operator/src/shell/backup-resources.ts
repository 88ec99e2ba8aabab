/** The backup kinds as `Resource`s of the k8s toolkit, and how their controllers watch. */
import {
  backupKind,
  backupPlural,
  group,
  scheduledBackupKind,
  scheduledBackupPlural,
  version
} from "@convex-operator/core"
import { Resource, Store } from "@convex-operator/k8s"

export const ConvexBackups = Resource.make({ group, version, kind: backupKind, plural: backupPlural, namespaced: true })
export const ConvexScheduledBackups = Resource.make({
  group,
  version,
  kind: scheduledBackupKind,
  plural: scheduledBackupPlural,
  namespaced: true
})

/** How the backup controllers watch: every object trimmed as it arrives (no managedFields, no last-applied copy). */
export const trimmed = { transform: Store.trim }
