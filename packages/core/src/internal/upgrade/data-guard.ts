/**
 * The data guard: the operator never itself replaces a backend pod whose `/convex/data` is an emptyDir holding
 * data, unless the spec accepts the loss (`backend.storage.acceptDataLoss`). Replacing such a pod loses the data,
 * so while the guard holds:
 *
 * - a due scheduled restart (`maintenance.restartInterval`) is not triggered;
 * - an upgrade (a new `version` or image) does not start: the running images stay rendered. An upgrade that
 *   already runs is not stopped (it started before the guard knew, e.g. under an older operator);
 * - a backend that runs on an emptyDir while the spec asks for the claim (an instance created before
 *   `pvc.enabled` defaulted to true, or `pvc.enabled` switched on) keeps its emptyDir: moving it onto the claim is
 *   a roll like an upgrade's and loses the data just the same.
 *
 * Spec edits that change the pod template in other ways (environment, resources) still roll the pod: those are
 * the user's own changes, not the operator's. A node drain or eviction is outside the operator's hands.
 *
 * What is on the volume comes from Convex's `self-hosted/docker-build/run_backend.sh`: the SQLite database is
 * `$DATA_DIR/db.sqlite3`, and unless `AWS_REGION` and all five `S3_STORAGE_*_BUCKET` variables are set the backend
 * runs with `--local-storage $DATA_DIR/storage`, which holds stored files, deployed modules, snapshot exports and
 * search indexes whatever the database engine. With Postgres/MySQL and S3 the volume holds only scratch files and
 * a copy of the instance secret the operator sets anyway, so an emptyDir loses nothing there.
 *
 * The `DataPersistent` condition says which case applies; its message names what is held and the field that
 * releases it, and is stable while nothing changes (no time in it), so a steady state writes nothing.
 *
 * @module
 */
import type { Condition, ConvexInstanceSpec } from "../../api/index.js"
import { type ConditionState, findCondition } from "../status/conditions.js"
import type { DecidedEvent } from "../status/events.js"

/** Where `/convex/data` lives. */
export type DataVolume = "claim" | "emptyDir"

/** Reasons of the `DataPersistent` condition. */
export const DataReason = {
  /** True: `/convex/data` is on the data claim. */
  OnClaim: "OnClaim",
  /** True: an emptyDir, but Postgres/MySQL and S3 leave only scratch files on it. */
  ScratchOnly: "ScratchOnly",
  /** False: an emptyDir holding data; nothing is due that would replace the pod. */
  EmptyDir: "EmptyDir",
  /** False: an emptyDir holding data, and a restart, upgrade or move onto the claim is held. */
  ReplacementHeld: "ReplacementHeld",
  /** False: an emptyDir holding data, and `acceptDataLoss` lets the operator replace the pod anyway. */
  DataLossAccepted: "DataLossAccepted"
} as const

/** The field that releases the guard. */
export const acceptDataLossField = "spec.backend.storage.acceptDataLoss"

/**
 * Whether `/convex/data` holds data a new pod cannot rebuild: the SQLite database, or Convex's local file storage
 * (used whenever S3 is off, `run_backend.sh`).
 */
export const volumeHoldsData = (spec: ConvexInstanceSpec): boolean =>
  spec.backend.db.engine === "sqlite" || !spec.backend.s3.enabled

/** The data volume of an observed backend StatefulSet's pod template, if it has one. */
export const observedDataVolume = (statefulSet: unknown): DataVolume | undefined => {
  const volumes = (
    statefulSet as
      | {
          readonly spec?: {
            readonly template?: {
              readonly spec?: { readonly volumes?: ReadonlyArray<{ readonly name?: string } & Record<string, unknown>> }
            }
          }
        }
      | undefined
  )?.spec?.template?.spec?.volumes
  const data = volumes?.find((volume) => volume.name === "data")
  if (data === undefined) return undefined
  if (data.persistentVolumeClaim !== undefined) return "claim"
  if (data.emptyDir !== undefined) return "emptyDir"
  return undefined
}

/** What the guard reads. */
export interface DataGuardInput {
  readonly spec: ConvexInstanceSpec
  /** The name of the data claim. */
  readonly claimName: string
  /** The data volume of the running backend (its observed StatefulSet); undefined when none runs yet. */
  readonly running: DataVolume | undefined
  /** Whether a scheduled restart is due now. */
  readonly restartDue: boolean
  /** The version an upgrade would start towards now, if one would start. */
  readonly upgradeTo: string | undefined
}

/** The guard's decision. */
export interface DataGuard {
  /** Where to render `/convex/data`. */
  readonly volume: DataVolume
  /** Whether a due restart is held. */
  readonly holdRestart: boolean
  /** Whether an upgrade that would start now is held. */
  readonly holdUpgrade: boolean
  /** The `DataPersistent` condition. */
  readonly condition: ConditionState
}

/** Decides where `/convex/data` goes and what is held. */
export const planDataGuard = (input: DataGuardInput): DataGuard => {
  const { spec } = input
  const storage = spec.backend.storage
  const wanted: DataVolume = storage.pvc.enabled ? "claim" : "emptyDir"
  const holdsData = volumeHoldsData(spec)
  // Only a running pod has data to lose; before the first one the spec's volume is rendered as it is.
  const atRisk = holdsData && input.running === "emptyDir"
  const guarding = atRisk && !storage.acceptDataLoss
  const holdMove = guarding && wanted === "claim"
  const volume: DataVolume = holdMove ? "emptyDir" : wanted
  const holdRestart = guarding && input.restartDue
  const holdUpgrade = guarding && input.upgradeTo !== undefined

  const condition = (status: "True" | "False", reason: string, message: string): DataGuard => ({
    volume,
    holdRestart,
    holdUpgrade,
    condition: { type: "DataPersistent", status, reason, message }
  })
  if (volume === "claim") {
    return condition("True", DataReason.OnClaim, `/convex/data is on PersistentVolumeClaim ${input.claimName}`)
  }
  if (!holdsData) {
    return condition(
      "True",
      DataReason.ScratchOnly,
      `/convex/data is an emptyDir holding only scratch files: the database is ${spec.backend.db.engine} and files, modules and exports are in S3`
    )
  }
  const lost =
    spec.backend.db.engine === "sqlite"
      ? "the SQLite database, stored files and modules"
      : "stored files, modules and exports (S3 is off, so Convex keeps them on the data volume)"
  const base = `/convex/data is an emptyDir: ${lost} are lost whenever the backend pod is replaced (a node drain or eviction too)`
  if (storage.acceptDataLoss) {
    return condition(
      "False",
      DataReason.DataLossAccepted,
      `${base}; ${acceptDataLossField} is true, so the operator restarts, upgrades and moves it all the same`
    )
  }
  const held = [
    ...(holdMove ? [`the move onto PersistentVolumeClaim ${input.claimName} (backend.storage.pvc.enabled)`] : []),
    ...(holdRestart ? [`the scheduled restart (maintenance.restartInterval ${spec.maintenance.restartInterval})`] : []),
    ...(holdUpgrade ? [`the upgrade to version ${input.upgradeTo}`] : [])
  ]
  if (held.length === 0) {
    return condition(
      "False",
      DataReason.EmptyDir,
      `${base}. The operator does not replace the pod itself (scheduled restart, upgrade, move onto a claim) while ${acceptDataLossField} is false`
    )
  }
  return condition(
    "False",
    DataReason.ReplacementHeld,
    `${base}. Held, because it would replace the pod: ${held.join("; ")}. Export the data first (npx convex export --include-file-storage), then set ${acceptDataLossField}: true to let it proceed${holdMove ? "" : ", or set backend.storage.pvc.enabled: true with it to move onto a claim"}`
  )
}

/**
 * The event of a change of the `DataPersistent` condition (status, reason or message; its messages carry no time,
 * so an unchanged instance emits none): a Warning while data is at risk or a replacement is held, Normal
 * otherwise. A new instance whose data is on a claim, or needs none, or that accepts the loss in its first spec, is
 * silent.
 */
export const dataGuardEvents = (
  previous: ReadonlyArray<Condition> | undefined,
  next: ReadonlyArray<Condition>
): ReadonlyArray<DecidedEvent> => {
  const after = findCondition(next, "DataPersistent")
  if (after === undefined) return []
  const before = findCondition(previous, "DataPersistent")
  if (before?.status === after.status && before.reason === after.reason && before.message === after.message) return []
  if (after.status === "True" && before?.status !== "False") return []
  // A new instance created with acceptDataLoss: true: the user chose it in the same spec, the condition says it.
  if (before === undefined && after.reason === DataReason.DataLossAccepted) return []
  const atRisk = after.reason === DataReason.EmptyDir || after.reason === DataReason.ReplacementHeld
  return [
    {
      type: atRisk ? "Warning" : "Normal",
      reason: after.reason === DataReason.EmptyDir ? "DataNotPersistent" : after.reason,
      action: after.reason === DataReason.ReplacementHeld ? "Hold" : "Reconcile",
      message: `DataPersistent=${after.status}: ${after.message}`
    }
  ]
}
