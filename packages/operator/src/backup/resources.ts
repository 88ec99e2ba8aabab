/** The backup kinds as `Resource`s of the k8s toolkit. */
import {
  backupKind,
  backupPlural,
  group,
  scheduledBackupKind,
  scheduledBackupPlural,
  version
} from "@convex-operator/core"
import { Resource } from "@convex-operator/k8s"

export const ConvexBackups = Resource.make({ group, version, kind: backupKind, plural: backupPlural, namespaced: true })
export const ConvexScheduledBackups = Resource.make({
  group,
  version,
  kind: scheduledBackupKind,
  plural: scheduledBackupPlural,
  namespaced: true
})
