/**
 * `status -A`: one line per instance, in kubectl's layout (columns padded by three spaces, no colour).
 *
 * @module
 */
import type { KubeObject } from "@convex-operator/k8s"
import { lastSuccessfulBackup } from "./backups.js"
import { statusOf } from "./build.js"
import type { InstanceRow } from "./model.js"
import { age } from "./time.js"

/** The row of `instance`; `backups` are ConvexBackups of its namespace (or more). */
export const instanceRow = (instance: KubeObject, backups: ReadonlyArray<KubeObject>): InstanceRow => {
  const status = statusOf(instance)
  const ready = status?.conditions?.find((condition) => condition.type === "Ready")?.status
  const namespace = instance.metadata.namespace ?? ""
  const name = instance.metadata.name ?? ""
  const version = status?.currentVersion ?? (instance as { spec?: { version?: string } }).spec?.version
  const last = lastSuccessfulBackup(
    backups.filter((backup) => (backup.metadata.namespace ?? namespace) === namespace),
    name
  )
  return {
    namespace,
    name,
    ready: ready === "True" || ready === "False" ? ready : "Unknown",
    ...(status?.phase !== undefined ? { phase: status.phase } : {}),
    ...(version !== undefined ? { version } : {}),
    ...(instance.metadata.creationTimestamp !== undefined ? { created: instance.metadata.creationTimestamp } : {}),
    ...(last?.at !== undefined ? { lastBackup: last.at } : {})
  }
}

/** The table of `rows` (sorted by namespace and name), with a NAMESPACE column when `withNamespace`. */
export const renderTable = (rows: ReadonlyArray<InstanceRow>, withNamespace: boolean, now: Date): string => {
  const sorted = [...rows].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name))
  const header = [...(withNamespace ? ["NAMESPACE"] : []), "NAME", "READY", "PHASE", "VERSION", "AGE", "LAST-BACKUP"]
  const cells = sorted.map((row) => [
    ...(withNamespace ? [row.namespace] : []),
    row.name,
    row.ready,
    row.phase ?? "<none>",
    row.version ?? "<none>",
    age(row.created, now),
    row.lastBackup === undefined ? "<none>" : age(row.lastBackup, now)
  ])
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((row) => row[column]?.length ?? 0)))
  return [header, ...cells]
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd((widths[column] ?? 0) + 3)))
        .join("")
        .trimEnd()
    )
    .join("\n")
}
