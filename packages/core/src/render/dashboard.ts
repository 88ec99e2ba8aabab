/**
 * The dashboard Deployment `<name>-dashboard`, when enabled: the same tag as the backend, listening on
 * 0.0.0.0:6791 (Kubernetes sets HOSTNAME to the pod name, so it is overridden), told where a browser reaches the
 * API, and running as uid 1001 unless the spec says otherwise. The admin key is pre-filled for every visitor only
 * when `prefillAdminKey` is set.
 *
 * @module
 */
import type { EnvVar, PodSecurityContext } from "../api/index.js"
import { dashboardPort } from "../convex/index.js"
import { childMeta, type RenderContext } from "./context.js"
import { selectorLabels, standardLabels } from "./labels.js"
import { secretKeys } from "./names.js"
import type { Deployment, Probe } from "./objects.js"

/** The name of the dashboard container. */
export const dashboardContainerName = "dashboard"

/** The dashboard image's user. */
export const dashboardDefaultPodSecurity: PodSecurityContext = { runAsNonRoot: true, runAsUser: 1001, runAsGroup: 1001 }

const rootProbe = (failureThreshold: number): Probe => ({
  httpGet: { path: "/", port: "http", scheme: "HTTP" },
  periodSeconds: 10,
  timeoutSeconds: 5,
  failureThreshold,
  successThreshold: 1
})

/** The dashboard's environment. */
export const dashboardEnv = (context: RenderContext): ReadonlyArray<EnvVar> => [
  { name: "HOSTNAME", value: "0.0.0.0" },
  { name: "PORT", value: String(dashboardPort) },
  { name: "NEXT_PUBLIC_DEPLOYMENT_URL", value: context.urls.deploymentUrl },
  ...(context.instance.spec.dashboard.prefillAdminKey
    ? [
        {
          name: "NEXT_PUBLIC_ADMIN_KEY",
          valueFrom: { secretKeyRef: { name: context.names.secrets, key: secretKeys.adminKey } }
        }
      ]
    : [])
]

/** Renders the dashboard Deployment, or nothing when the dashboard is disabled. */
export const renderDashboardDeployment = (context: RenderContext): Deployment | undefined => {
  const { dashboard } = context.instance.spec
  if (!dashboard.enabled) return undefined
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: childMeta(context, context.names.dashboard, "dashboard"),
    spec: {
      replicas: dashboard.replicas,
      selector: { matchLabels: selectorLabels(context.name, "dashboard") },
      template: {
        metadata: {
          labels: standardLabels(context.name, "dashboard", context.images.version),
          annotations: context.dashboardPodAnnotations
        },
        spec: {
          enableServiceLinks: false,
          securityContext: dashboard.security?.pod ?? dashboardDefaultPodSecurity,
          containers: [
            {
              name: dashboardContainerName,
              image: context.images.dashboard,
              ports: [{ name: "http", containerPort: dashboardPort, protocol: "TCP" }],
              env: dashboardEnv(context),
              ...(dashboard.resources !== undefined ? { resources: dashboard.resources } : {}),
              startupProbe: rootProbe(30),
              readinessProbe: rootProbe(3),
              ...(dashboard.security?.container !== undefined ? { securityContext: dashboard.security.container } : {})
            }
          ]
        }
      }
    }
  }
}
