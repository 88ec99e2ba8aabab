/**
 * The data claim `<name>-backend-pvc` mounted at /convex/data (owned by the instance only when its deletion policy
 * is Delete, so a retained claim outlives the instance). Core never deletes a claim. (Backup claims: core
 * `render/backup-jobs.ts`.)
 *
 * @module
 */
import { childMeta, type RenderContext } from "./context.js"
import type { PersistentVolumeClaim } from "./objects.js"

/** The size of a claim whose spec gives none. */
export const defaultClaimSize = "10Gi"

const claim = (context: RenderContext, name: string, component: "storage", owned: boolean): PersistentVolumeClaim => {
  const pvc = context.instance.spec.backend.storage.pvc
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: childMeta(context, name, component, { owned }),
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: pvc.size ?? defaultClaimSize } },
      ...(pvc.storageClassName !== undefined ? { storageClassName: pvc.storageClassName } : {})
    }
  }
}

/** The data claim, when `backend.storage.pvc.enabled`. */
export const renderDataPvc = (context: RenderContext): PersistentVolumeClaim | undefined => {
  const pvc = context.instance.spec.backend.storage.pvc
  return pvc.enabled ? claim(context, context.names.backendPvc, "storage", pvc.deletionPolicy === "Delete") : undefined
}
