/**
 * The report `convex-operator status <instance>` prints: what one ConvexInstance is and does, as plain data. Times
 * are RFC 3339 strings (as Kubernetes writes them); the renderers turn them into ages against a `now` they are
 * given. `-o json|yaml` prints this object as it is.
 *
 * @module
 */

/** A condition as the report shows it. */
export interface ConditionLine {
  readonly type: string
  readonly status: "True" | "False" | "Unknown"
  readonly reason: string
  readonly message: string
  /** When the condition last changed status. */
  readonly since?: string | undefined
}

/** A ConvexBackup of the instance. */
export interface BackupLine {
  readonly name: string
  readonly phase: string
  /** When it finished (Completed or Failed), else when it was created. */
  readonly at?: string | undefined
  readonly size?: string | undefined
  readonly location?: string | undefined
  readonly message?: string | undefined
}

/** A ConvexScheduledBackup naming the instance. */
export interface ScheduleLine {
  readonly name: string
  readonly schedule: string
  readonly suspended: boolean
  /** Its next run by its cron (UTC), absent while suspended or when the cron never fires again. */
  readonly next?: string | undefined
}

export interface BackupsReport {
  /** The newest Completed backup. */
  readonly lastSuccessful?: BackupLine | undefined
  /** The newest backup, when it is newer than the last successful one (running, pending or failed). */
  readonly latest?: BackupLine | undefined
  /** The earliest next run of the schedules. */
  readonly next?: { readonly schedule: string; readonly at: string } | undefined
  readonly schedules: ReadonlyArray<ScheduleLine>
}

/** Where `/convex/data` is kept. */
export interface StorageReport {
  /** `claim` when spec.backend.storage.pvc.enabled (the default), else `emptyDir`. */
  readonly volume: "claim" | "emptyDir"
  /** The DataPersistent condition: whether what is in /convex/data survives a new pod (unknown before a report). */
  readonly persistent?: boolean | undefined
  readonly reason?: string | undefined
  readonly message?: string | undefined
  /** The data claim (`status.dataClaims.current`, else `<name>-backend-pvc`), as found in the cluster. */
  readonly claim?:
    | {
        readonly name: string
        /** The claim's phase (Pending, Bound, Lost), or `Missing` when it does not exist. */
        readonly phase: string
        /** The bound capacity, else the requested size. */
        readonly size?: string | undefined
        readonly storageClass?: string | undefined
      }
    | undefined
  /** Claims the operator keeps but no longer mounts (older versions' data after exportImport upgrades). */
  readonly retainedClaims: ReadonlyArray<string>
}

export type StepState = "done" | "running" | "failed" | "to do"

export interface UpgradeReport {
  readonly strategy: string
  readonly from?: string | undefined
  readonly to: string
  readonly phase: string
  readonly startedAt: string
  readonly stepStartedAt?: string | undefined
  readonly attempt: number
  readonly maxAttempt?: number | undefined
  /** When the next attempt starts after a failed one. */
  readonly retryAt?: string | undefined
  readonly steps: ReadonlyArray<{ readonly step: string; readonly state: StepState }>
  /** What the current step waits for: the pre-upgrade ConvexBackup or a Job (none while rolling). */
  readonly job?: { readonly kind: string; readonly name: string; readonly state: string } | undefined
}

export interface RestartReport {
  /** `maintenance.restartInterval` (0s disables). */
  readonly interval?: string | undefined
  /** disabled; scheduled (at `at`); due (now); waiting (for the backend to be ready or an upgrade to end); paused. */
  readonly state: "disabled" | "scheduled" | "due" | "waiting" | "paused" | "unknown"
  readonly at?: string | undefined
  /** `status.lastRestartTime`. */
  readonly last?: string | undefined
}

/** A Warning event about the instance. */
export interface EventLine {
  readonly reason: string
  readonly message: string
  /** When it was last seen. */
  readonly at?: string | undefined
  readonly count: number
}

export interface StatusReport {
  readonly namespace: string
  readonly name: string
  /** The Ready condition (Unknown/NotReported before the operator wrote a status). */
  readonly ready: ConditionLine
  readonly phase?: string | undefined
  /** Whether the pause annotation holds the instance. */
  readonly paused: boolean
  /** Whether the status describes the current generation of the spec. */
  readonly statusCurrent: boolean
  readonly version: { readonly wanted?: string | undefined; readonly running?: string | undefined }
  readonly urls: {
    readonly api?: string | undefined
    readonly site?: string | undefined
    readonly dashboard?: string | undefined
    /** Why there is no dashboard URL (disabled, or no public host). */
    readonly dashboardNote?: string | undefined
  }
  /** Every condition other than Ready that is not fine (see `conditions.ts`), in status order. */
  readonly conditions: ReadonlyArray<ConditionLine>
  readonly storage: StorageReport
  readonly backups: BackupsReport
  readonly upgrade?: UpgradeReport | undefined
  readonly restart: RestartReport
  /** The newest Warning events of the instance, newest first. */
  readonly events: ReadonlyArray<EventLine>
  /** What could not be read or understood (a forbidden list, a spec that does not decode). */
  readonly problems: ReadonlyArray<string>
}

/** One line of `status -A`. */
export interface InstanceRow {
  readonly namespace: string
  readonly name: string
  readonly ready: "True" | "False" | "Unknown"
  readonly phase?: string | undefined
  /** The running version, else the wanted one. */
  readonly version?: string | undefined
  readonly created?: string | undefined
  /** When the newest Completed backup finished. */
  readonly lastBackup?: string | undefined
}
