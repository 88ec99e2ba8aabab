/**
 * Services: the backend's client Service (3210 `http`, 3211 `http-action`), the headless Service that governs
 * the StatefulSet, and the dashboard's Service (6791).
 *
 * @module
 */
import { backendApiPort, backendSiteProxyPort, dashboardPort } from "../convex/index.js"
import { childMeta, type RenderContext } from "./context.js"
import { selectorLabels } from "./labels.js"
import type { Service, ServicePort } from "./objects.js"

const backendPorts: ReadonlyArray<ServicePort> = [
  { name: "http", port: backendApiPort, targetPort: "http", protocol: "TCP" },
  { name: "http-action", port: backendSiteProxyPort, targetPort: "http-action", protocol: "TCP" }
]

/** The backend's client Service `<name>-backend`. */
export const renderBackendService = (context: RenderContext): Service => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: childMeta(context, context.names.backend, "backend"),
  spec: { type: "ClusterIP", selector: selectorLabels(context.name, "backend"), ports: backendPorts }
})

/** The governing headless Service `<name>-backend-headless` of the StatefulSet. */
export const renderBackendHeadlessService = (context: RenderContext): Service => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: childMeta(context, context.names.backendHeadless, "backend"),
  spec: {
    clusterIP: "None",
    publishNotReadyAddresses: true,
    selector: selectorLabels(context.name, "backend"),
    ports: backendPorts
  }
})

/** The dashboard's Service `<name>-dashboard`. */
export const renderDashboardService = (context: RenderContext): Service => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: childMeta(context, context.names.dashboard, "dashboard"),
  spec: {
    type: "ClusterIP",
    selector: selectorLabels(context.name, "dashboard"),
    ports: [{ name: "http", port: dashboardPort, targetPort: "http", protocol: "TCP" }]
  }
})
