/**
 * The backend StatefulSet `<name>-backend`: exactly one replica, ever (a second Convex process steals the
 * database's writer lease). Data lives at /convex/data on the data claim, or on an emptyDir when the claim is
 * disabled or the data guard keeps a running emptyDir (`internal/upgrade/data-guard.ts`; DataPersistent says so). The backend answers `GET /version` on 3210 once
 * its database is connected, so that is the startup, readiness and liveness check; the startup budget is ten
 * minutes because migrations run at start. As PID 1 the backend ignores SIGTERM and stops on SIGINT only, so a
 * preStop hook sends SIGINT to PID 1.
 *
 * @module
 */
import type { ResourceRequirements } from "../api/index.js"
import { backendApiPort, backendDataPath, backendSiteProxyPort } from "../convex/index.js"
import { caBundles, caVolumes } from "./ca-bundles.js"
import { childMeta, type RenderContext } from "./context.js"
import { selectorLabels, standardLabels } from "./labels.js"
import type { Probe, StatefulSet, Volume } from "./objects.js"

/** The name of the backend container. */
export const backendContainerName = "backend"

/** Seconds Kubernetes waits after the preStop hook's SIGINT before it kills the backend. */
export const backendTerminationGracePeriodSeconds = 120

/** The preStop hook: SIGINT to PID 1, the only signal the backend stops on. */
export const backendPreStopCommand: ReadonlyArray<string> = ["/bin/sh", "-c", "kill -INT 1"]

const versionProbe = (periodSeconds: number, timeoutSeconds: number, failureThreshold: number): Probe => ({
  httpGet: { path: "/version", port: "http", scheme: "HTTP" },
  periodSeconds,
  timeoutSeconds,
  failureThreshold,
  successThreshold: 1
})

/** Startup: up to 10 minutes (60 × 10 s) for migrations at start. */
export const backendStartupProbe = versionProbe(10, 5, 60)
/** Readiness: out of the Service after 30 s without an answer. */
export const backendReadinessProbe = versionProbe(10, 5, 3)
/** Liveness: restarted after 5 minutes without an answer. */
export const backendLivenessProbe = versionProbe(30, 10, 10)

/** Resources of the backend: the spec's, with `scale.backend.maxMemory` as the memory limit. */
export const backendResources = (context: RenderContext): ResourceRequirements | undefined => {
  const base = context.instance.spec.backend.resources
  const maxMemory = context.instance.spec.scale?.backend?.maxMemory
  if (maxMemory === undefined) return base
  return { ...base, limits: { ...base?.limits, memory: maxMemory } }
}

const dataVolume = (context: RenderContext): Volume =>
  (context.dataVolume ?? (context.instance.spec.backend.storage.pvc.enabled ? "claim" : "emptyDir")) === "claim"
    ? { name: "data", persistentVolumeClaim: { claimName: context.names.backendPvc } }
    : { name: "data", emptyDir: {} }

/** Renders the backend StatefulSet. */
export const renderBackendStatefulSet = (context: RenderContext): StatefulSet => {
  const { backend } = context.instance.spec
  const resources = backendResources(context)
  const ca = caVolumes(caBundles(context.instance))
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: childMeta(context, context.names.backend, "backend"),
    spec: {
      replicas: 1,
      serviceName: context.names.backendHeadless,
      podManagementPolicy: "OrderedReady",
      updateStrategy: { type: "RollingUpdate" },
      selector: { matchLabels: selectorLabels(context.name, "backend") },
      template: {
        metadata: {
          labels: standardLabels(context.name, "backend", context.images.version),
          annotations: context.backendPodAnnotations
        },
        spec: {
          enableServiceLinks: false,
          terminationGracePeriodSeconds: backendTerminationGracePeriodSeconds,
          ...(backend.security?.pod !== undefined ? { securityContext: backend.security.pod } : {}),
          containers: [
            {
              name: backendContainerName,
              image: context.images.backend,
              ports: [
                { name: "http", containerPort: backendApiPort, protocol: "TCP" },
                { name: "http-action", containerPort: backendSiteProxyPort, protocol: "TCP" }
              ],
              envFrom: [{ configMapRef: { name: context.names.backendConfig } }],
              env: context.environment.env,
              ...(resources !== undefined ? { resources } : {}),
              volumeMounts: [{ name: "data", mountPath: backendDataPath }, ...ca.mounts],
              startupProbe: backendStartupProbe,
              readinessProbe: backendReadinessProbe,
              livenessProbe: backendLivenessProbe,
              lifecycle: { preStop: { exec: { command: backendPreStopCommand } } },
              ...(backend.security?.container !== undefined ? { securityContext: backend.security.container } : {})
            }
          ],
          volumes: [dataVolume(context), ...ca.volumes]
        }
      }
    }
  }
}
