/**
 * What the upgrade plan reads, from an instance and what is observed in its namespace: the images the spec asks
 * for, the observed backend and dashboard, and each step's Job or pre-upgrade backup. `decide` builds it to render
 * the journaled step, and the saga (`saga.ts` beside this file) to find the step's next move: both from this one
 * function, so that they read the cluster the same way.
 *
 * @module
 */
import type { ConvexInstance } from "../../api/index.js"
import { backendImage, dashboardImage } from "../../convex/index.js"
import type { RunningImages } from "../../render/context.js"
import { dashboardContainerName } from "../../render/dashboard.js"
import { attemptAnnotation, upgradeJobName } from "../../render/jobs.js"
import { childNames } from "../../render/names.js"
import type { ObservedIndex } from "../../render/observed.js"
import { backendContainerName } from "../../render/statefulset.js"
import { containerImage } from "../decide-observe.js"
import { jobOutcome, statefulSetReadiness } from "../status/workloads.js"
import { backupSource, upgradeBackupOutcome } from "./backup.js"
import { retryAnnotation, type UpgradeInput } from "./plan.js"

/** The version and images `instance`'s spec asks for. */
export const targetImages = (instance: ConvexInstance): RunningImages => ({
  version: instance.spec.version,
  backend: backendImage(instance.spec.version, instance.spec.backend.image),
  dashboard: dashboardImage(instance.spec.version, instance.spec.dashboard.image)
})

/** The upgrade plan's input for `instance` towards the images its spec asks for. */
export const upgradeInputOf = (instance: ConvexInstance, index: ObservedIndex, now: Date): UpgradeInput => {
  const { spec } = instance
  const previous = instance.status
  const names = childNames(instance.metadata.name ?? "")
  const observedStatefulSet = index.get("StatefulSet", names.backend)
  const backendReadiness = statefulSetReadiness(observedStatefulSet)
  return {
    target: targetImages(instance),
    strategy: spec.maintenance.upgradeStrategy,
    exportFirst: spec.maintenance.preUpgradeBackup.enabled,
    status: previous,
    observedBackendImage: containerImage(observedStatefulSet, backendContainerName),
    observedDashboardImage: containerImage(index.get("Deployment", names.dashboard), dashboardContainerName),
    backendReadyWith: (image) =>
      backendReadiness.ready && containerImage(observedStatefulSet, backendContainerName) === image,
    job: (step, hash, attempt) => {
      if (step === "Export") {
        const backup = index.get("ConvexBackup", names.preUpgradeBackup(hash, attempt))
        return { outcome: upgradeBackupOutcome(backup), attempt }
      }
      const job = index.get("Job", upgradeJobName(names, step, hash))
      if (step === "Import" && job === undefined) {
        // The import reads the pre-upgrade backup; without it (deleted meanwhile) the attempt fails, saying why.
        const backup = previous?.upgrade?.backup ?? ""
        const source = backupSource(backup, index.get("ConvexBackup", backup))
        if ("waiting" in source) {
          return { outcome: "Failed", attempt, reason: `the import cannot run: ${source.waiting}` }
        }
      }
      const annotated = Number(job?.metadata.annotations?.[attemptAnnotation])
      return {
        outcome: jobOutcome(job),
        attempt: Number.isInteger(annotated) && annotated > 0 ? annotated : undefined
      }
    },
    retryRequest: instance.metadata.annotations?.[retryAnnotation],
    backupName: names.preUpgradeBackup,
    savedEnvSecret: names.savedEnv,
    // SQLite on a claim: exportImport moves the data to a fresh claim `<name>-backend-pvc-g<n>` at the roll.
    ...(spec.backend.db.engine === "sqlite" && spec.backend.storage.pvc.enabled
      ? { dataClaim: { base: names.backendPvc, generation: (n: number) => `${names.backendPvc}-g${n}` } }
      : {}),
    now
  }
}
