/**
 * `ConvexInstance.status`: what the operator observed and decided, written only by the operator.
 *
 * @module
 */
import { Schema } from "effect"
import { crdExtra, doc, optional } from "./annotations.js"
import { conditionList } from "./kube.js"
import { ImageRef, ImageTag, Int32, Int64 } from "./primitives.js"
import { RestoreStatus } from "./restore.js"
import { UpgradeStrategy } from "./spec.js"

export const Phase = Schema.Literal("Pending", "Ready", "Error", "Upgrading", "Paused")
export type Phase = typeof Phase.Type

export const InstanceEndpoints = Schema.Struct({
  apiUrl: optional(Schema.String.pipe(doc("URL of the Convex API (CONVEX_CLOUD_ORIGIN, or the in-cluster Service)."))),
  siteUrl: optional(Schema.String.pipe(doc("URL of HTTP actions (CONVEX_SITE_ORIGIN)."))),
  dashboardUrl: optional(Schema.String.pipe(doc("URL of the dashboard, when it has a public host.")))
})
export type InstanceEndpoints = typeof InstanceEndpoints.Type

/**
 * The step an upgrade is at: export the old version, save its environment variables (exportImport), roll to the
 * new one, import the export and restore the variables (exportImport), or stopped on failure.
 */
export const UpgradePhase = Schema.Literal("Exporting", "SavingEnv", "Rolling", "Importing", "RestoringEnv", "Failed")
export type UpgradePhase = typeof UpgradePhase.Type

/** A step of an upgrade, as named when it failed. */
export const UpgradeStep = Schema.Literal("Export", "SaveEnv", "Roll", "Import", "RestoreEnv")
export type UpgradeStep = typeof UpgradeStep.Type

const DateTimeString = Schema.String.pipe(crdExtra({ format: "date-time" }))

/** The progress of a running upgrade, persisted so that a restarted operator resumes it. */
export const UpgradeStatus = Schema.Struct({
  phase: UpgradePhase.pipe(
    doc(
      "Current step: Exporting, SavingEnv, Rolling, Importing, RestoringEnv, or Failed (stopped until the " +
        "convex.icod.de/retry-upgrade annotation gets a new value or spec.version changes)."
    )
  ),
  strategy: UpgradeStrategy.pipe(doc("The upgrade strategy this upgrade runs with.")),
  failedStep: optional(UpgradeStep.pipe(doc("The step that failed, when phase is Failed."))),
  stepStartedAt: optional(DateTimeString.pipe(doc("When the current step started (or failed, when phase is Failed)."))),
  attempt: optional(
    Int32.pipe(Schema.greaterThanOrEqualTo(1), doc("The attempt of the current step's Job (1 when absent)."))
  ),
  maxAttempt: optional(
    Int32.pipe(Schema.greaterThanOrEqualTo(1), doc("The last attempt of the current step before the upgrade fails."))
  ),
  retryAt: optional(DateTimeString.pipe(doc("When the next attempt starts, after a failed one (backoff)."))),
  retryRequest: optional(
    Schema.String.pipe(
      Schema.maxLength(64),
      doc("Hash of the convex.icod.de/retry-upgrade annotation value already seen (only a new value retries).")
    )
  ),
  backup: optional(
    Schema.String.pipe(doc("The ConvexBackup of the pre-upgrade export (absent when the upgrade rolled without one)."))
  ),
  savedEnvSecret: optional(
    Schema.String.pipe(doc("The Secret the deployment's environment variables are saved to (exportImport)."))
  ),
  dataClaim: optional(
    Schema.String.pipe(
      doc(
        "The fresh data claim the new version starts on from the roll (exportImport with SQLite on a claim); " +
          "status.dataClaims.current keeps the old data until the upgrade completes."
      )
    )
  ),
  targetHash: Schema.String.pipe(doc("Hash of the version and images being upgraded to.")),
  toVersion: ImageTag.pipe(doc("The version being upgraded to.")),
  fromVersion: optional(ImageTag.pipe(doc("The version being upgraded from, when known."))),
  fromBackendImage: ImageRef.pipe(doc("Backend image that runs until the export is done.")),
  fromDashboardImage: ImageRef.pipe(doc("Dashboard image that runs until the export is done.")),
  startedAt: DateTimeString.pipe(doc("When the upgrade started."))
})
export type UpgradeStatus = typeof UpgradeStatus.Type

/** The SQLite data claims once an exportImport upgrade moved the data to a fresh one. */
export const DataClaimsStatus = Schema.Struct({
  current: Schema.String.pipe(doc("The data claim the backend mounts.")),
  retained: optional(
    Schema.Array(Schema.String).pipe(
      Schema.maxItems(64),
      doc(
        "Data claims no longer mounted and never deleted by the operator: the storage of the version before each " +
          "exportImport upgrade, and the fresh claims of upgrades that were rolled back or replaced."
      )
    )
  )
}).pipe(
  doc(
    "The data claims of a SQLite instance once an exportImport upgrade moved it to a fresh claim (absent before: " +
      "the claim is <name>-backend-pvc)."
  )
)
export type DataClaimsStatus = typeof DataClaimsStatus.Type

export const ConvexInstanceStatus = Schema.Struct({
  phase: optional(
    Phase.pipe(
      doc(
        "Coarse lifecycle: Pending, Ready, Error or Upgrading; Paused while the convex.icod.de/pause-reconciliation " +
          'annotation is "true".'
      )
    )
  ),
  upgradeHash: optional(Schema.String.pipe(doc("Hash of the last fully applied version and images."))),
  currentVersion: optional(
    ImageTag.pipe(doc("The version whose images were last fully rolled out (the one running when not upgrading)."))
  ),
  upgrade: optional(UpgradeStatus.pipe(doc("The upgrade in progress; absent when none runs."))),
  dataClaims: optional(DataClaimsStatus),
  restore: optional(RestoreStatus),
  lastRestartTime: optional(
    DateTimeString.pipe(doc("When the operator last restarted the backend (maintenance.restartInterval)."))
  ),
  observedGeneration: optional(Int64.pipe(doc("The .metadata.generation this status describes."))),
  endpoints: optional(InstanceEndpoints.pipe(doc("Where clients reach this deployment."))),
  conditions: optional(
    conditionList("Current state: Ready plus one condition per part (SecretsReady, BackendReady, GatewayReady, …).", 64)
  )
}).pipe(doc("Observed state of the ConvexInstance."))
export type ConvexInstanceStatus = typeof ConvexInstanceStatus.Type
