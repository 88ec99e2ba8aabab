/**
 * The backend's PodDisruptionBudget `<name>-backend` (`backend.podDisruptionBudget.enabled`, off by default). The
 * backend is one pod, ever, so every eviction is an outage; `maxUnavailable: 0` makes the eviction API refuse
 * them all. The price: `kubectl drain` of the backend's node (and a cluster autoscaler's scale-down) waits until
 * the budget is disabled or the pod is deleted by hand. Deletions and the operator's own rolls are not evictions
 * and are not held.
 *
 * @module
 */
import { childMeta, type RenderContext } from "./context.js"
import { selectorLabels } from "./labels.js"
import type { PodDisruptionBudget } from "./objects.js"

/** Renders the PodDisruptionBudget, or nothing when it is disabled. */
export const renderBackendDisruptionBudget = (context: RenderContext): PodDisruptionBudget | undefined =>
  context.instance.spec.backend.podDisruptionBudget.enabled
    ? {
        apiVersion: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: childMeta(context, context.names.backend, "backend"),
        spec: { maxUnavailable: 0, selector: { matchLabels: selectorLabels(context.name, "backend") } }
      }
    : undefined
