/**
 * The env Jobs of an exportImport upgrade: save the deployment's environment variables (a ZIP does not hold them)
 * before the roll, and restore them after the import. (The export is a ConvexBackup and the import a restore Job:
 * core `internal/upgrade/backup.ts`.) They run the operator's own image and its `snapshot` subcommand (the backend image
 * has no Convex CLI), reach the backend through its Service, and read the admin key from the generated Secret;
 * saved variables go to a Secret the env-save Job writes (see `env-access.ts` for what those Jobs may touch).
 *
 * Each Job runs one pod (`backoffLimit: 0`): the upgrade plan retries a failed step itself, with backoff and a
 * bounded number of attempts it records in the status; the attempt is an annotation of the Job.
 *
 * @module
 */
import type { EnvVar, UpgradeStep } from "../api/index.js"
import { childMeta, type RenderContext } from "./context.js"
import { jobContainerSecurity, jobPodSecurity } from "./job-security.js"
import { type ChildNames, childNames, secretKeys } from "./names.js"
import type { Job } from "./objects.js"

/** The steps of an upgrade that wait for something to finish (Export: a ConvexBackup; the others: a Job). */
export type JobStep = Exclude<UpgradeStep, "Roll">

/** The steps that run a Job of the instance (Import: core `internal/upgrade/backup.ts`). */
export type UpgradeJobStep = Exclude<JobStep, "Export">

/** The steps whose Job this module renders. */
export type EnvJobStep = Exclude<UpgradeJobStep, "Import">

/** The Job annotation holding the attempt it runs. */
export const attemptAnnotation = "convex.icod.de/attempt"

/** The name of the Job of `step` in the upgrade to the images with hash `hash`. */
export const upgradeJobName = (names: ChildNames, step: UpgradeJobStep, hash: string): string => {
  switch (step) {
    case "SaveEnv":
      return names.envSaveJob(hash)
    case "Import":
      return names.importJob(hash)
    case "RestoreEnv":
      return names.envRestoreJob(hash)
  }
}

/** The arguments of the operator's snapshot subcommand for `step` of the instance `instance`. */
export const snapshotArgs = (
  step: EnvJobStep,
  hash: string,
  instance: { readonly name: string; readonly namespace: string }
): ReadonlyArray<string> => {
  const names = childNames(instance.name)
  const namespace = instance.namespace
  switch (step) {
    case "SaveEnv":
      return ["snapshot", "env-save", "--secret", names.savedEnv(hash), "--namespace", namespace]
    case "RestoreEnv":
      return ["snapshot", "env-restore", "--secret", names.savedEnv(hash), "--namespace", namespace]
  }
}

const containerName: Readonly<Record<EnvJobStep, string>> = {
  SaveEnv: "env-save",
  RestoreEnv: "env-restore"
}

const jobEnv = (context: RenderContext): ReadonlyArray<EnvVar> => [
  { name: "CONVEX_SELF_HOSTED_URL", value: context.urls.internalApi },
  {
    name: "CONVEX_SELF_HOSTED_ADMIN_KEY",
    valueFrom: { secretKeyRef: { name: context.names.secrets, key: secretKeys.adminKey } }
  }
]

/** Renders the Job of `step` (attempt `attempt`) in the upgrade to the images with hash `hash`. */
export const renderUpgradeJob = (context: RenderContext, step: EnvJobStep, hash: string, attempt: number): Job => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: childMeta(context, upgradeJobName(context.names, step, hash), "snapshot", {
    annotations: { [attemptAnnotation]: String(attempt) }
  }),
  spec: {
    backoffLimit: 0,
    template: {
      metadata: { labels: { "app.kubernetes.io/instance": context.name, "app.kubernetes.io/component": "snapshot" } },
      spec: {
        restartPolicy: "Never",
        enableServiceLinks: false,
        securityContext: jobPodSecurity,
        // The env Jobs talk to the Kubernetes API (the saved-env Secret), as their own ServiceAccount.
        serviceAccountName: context.names.envAccess,
        automountServiceAccountToken: true,
        containers: [
          {
            name: containerName[step],
            image: context.operator.image,
            ...(context.operator.command !== undefined ? { command: context.operator.command } : {}),
            args: snapshotArgs(step, hash, context),
            env: jobEnv(context),
            securityContext: jobContainerSecurity
          }
        ]
      }
    }
  }
})
