/**
 * Snapshot Jobs of an upgrade: export before rolling to a new version, import after (exportImport strategy).
 * They run the operator's own image and its `snapshot` subcommand (the backend image has no Convex CLI), reach
 * the backend through its Service, read the admin key from the generated Secret, and keep the ZIP on the snapshot
 * claim.
 *
 * @module
 */
import type { EnvVar } from "../api/index.js"
import { childMeta, type RenderContext } from "./context.js"
import { secretKeys } from "./names.js"
import type { Job } from "./objects.js"

/** Where the snapshot claim is mounted in a Job. */
export const snapshotMountPath = "/snapshots"

/** The file an upgrade to the images with hash `hash` exports to and imports from. */
export const snapshotPath = (hash: string): string => `${snapshotMountPath}/upgrade-${hash.slice(0, 16)}.zip`

/** Which way a snapshot Job goes. */
export type SnapshotDirection = "export" | "import"

/** The arguments of the operator's snapshot subcommand. */
export const snapshotArgs = (direction: SnapshotDirection, hash: string): ReadonlyArray<string> =>
  direction === "export"
    ? ["snapshot", "export", "--path", snapshotPath(hash), "--include-file-storage"]
    : ["snapshot", "import", "--path", snapshotPath(hash), "--replace-all"]

const jobEnv = (context: RenderContext): ReadonlyArray<EnvVar> => [
  { name: "CONVEX_SELF_HOSTED_URL", value: context.urls.internalApi },
  {
    name: "CONVEX_SELF_HOSTED_ADMIN_KEY",
    valueFrom: { secretKeyRef: { name: context.names.secrets, key: secretKeys.adminKey } }
  }
]

/** Renders the export or import Job of the upgrade to the images with hash `hash`. */
export const renderSnapshotJob = (context: RenderContext, direction: SnapshotDirection, hash: string): Job => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: childMeta(
    context,
    direction === "export" ? context.names.exportJob(hash) : context.names.importJob(hash),
    "snapshot"
  ),
  spec: {
    backoffLimit: 3,
    template: {
      metadata: { labels: { "app.kubernetes.io/instance": context.name, "app.kubernetes.io/component": "snapshot" } },
      spec: {
        restartPolicy: "Never",
        enableServiceLinks: false,
        containers: [
          {
            name: direction,
            image: context.operator.image,
            ...(context.operator.command !== undefined ? { command: context.operator.command } : {}),
            args: snapshotArgs(direction, hash),
            env: jobEnv(context),
            volumeMounts: [{ name: "snapshots", mountPath: snapshotMountPath }]
          }
        ],
        volumes: [{ name: "snapshots", persistentVolumeClaim: { claimName: context.names.snapshots } }]
      }
    }
  }
})
