/**
 * The conditions of a decision, from what was rendered and what was observed. Each one reports an observation
 * (an object that exists and matches what was rendered, a workload that is ready, a route that is accepted),
 * never an intention.
 *
 * @module
 */
import type { ConvexInstance } from "../api/index.js"
import type { RoutingState } from "../render/route-status.js"
import { type ConditionState, Reason } from "./status/conditions.js"
import type { ReferenceProblem } from "./status/references.js"
import type { Readiness } from "./status/workloads.js"

/** The facts the conditions are folded from. */
export interface ConditionFacts {
  readonly instance: ConvexInstance
  /** Whether each object exists as rendered, by role. */
  readonly inPlace: {
    readonly configMap: boolean
    readonly secret: boolean
    readonly pvc: boolean
    readonly services: boolean
    readonly dashboardService: boolean
  }
  readonly problems: ReadonlyArray<ReferenceProblem>
  readonly backend: Readiness & { readonly held: boolean }
  readonly dashboard: Readiness
  /** The operator's Gateway, when it owns one. */
  readonly gateway: RoutingState | undefined
  /** The routes (HTTPRoutes or the Ingress), when there is public networking. */
  readonly routes: RoutingState | undefined
  readonly trafficStopped: boolean
  readonly upgradeFailed: boolean
  readonly upgradeConditions: ReadonlyArray<ConditionState>
  /** ProxySettingsApplied (status/proxy-settings.ts), after HTTPRouteReady. */
  readonly proxySettings?: ConditionState
}

const available = (type: ConditionState["type"], inPlace: boolean, what: string): ConditionState =>
  inPlace
    ? { type, status: "True", reason: Reason.Available, message: `in place: ${what}` }
    : { type, status: "False", reason: Reason.Provisioning, message: `applying ${what}` }

const fromRouting = (type: ConditionState["type"], state: RoutingState): ConditionState => {
  switch (state._tag) {
    case "Ready":
      return { type, status: "True", reason: Reason.Available, message: "accepted and programmed" }
    case "WaitingForCertificate":
      return { type, status: "False", reason: Reason.WaitingForCertificate, message: state.message }
    case "Rejected":
      return { type, status: "False", reason: Reason.NotAccepted, message: state.message }
    case "Pending":
      return { type, status: "False", reason: Reason.Provisioning, message: state.message }
  }
}

/** Whether public routing is configured and works. */
export const routingReady = (facts: Pick<ConditionFacts, "gateway" | "routes" | "trafficStopped">): boolean =>
  !facts.trafficStopped &&
  (facts.gateway === undefined || facts.gateway._tag === "Ready") &&
  (facts.routes === undefined || facts.routes._tag === "Ready")

/** Every condition, in the order of `conditionTypes`. */
export const conditionsOf = (facts: ConditionFacts): ReadonlyArray<ConditionState> => {
  const { spec } = facts.instance
  const blocking = facts.problems.filter((problem) => problem.blocking)
  const networking = spec.networking
  const pvc = spec.backend.storage.pvc
  const dashboardOn = spec.dashboard.enabled

  const secrets: ConditionState =
    facts.problems.length > 0
      ? {
          type: "SecretsReady",
          status: "False",
          reason: Reason.ValidationFailed,
          message: facts.problems.map((problem) => `${problem.field}: ${problem.message}`).join("; ")
        }
      : available("SecretsReady", facts.inPlace.secret, "the generated Secret")

  const pvcCondition: ConditionState = pvc.enabled
    ? available("PVCReady", facts.inPlace.pvc, "the data PersistentVolumeClaim")
    : {
        type: "PVCReady",
        status: "True",
        reason: Reason.Skipped,
        message:
          "no claim: spec.backend.storage.pvc.enabled is false, so /convex/data is an emptyDir (DataPersistent says what that loses)"
      }

  const statefulSet: ConditionState = facts.backend.held
    ? {
        type: "StatefulSetReady",
        status: "False",
        reason: Reason.ValidationFailed,
        message: "the backend is not rolled while its references are invalid (see SecretsReady)"
      }
    : facts.backend.ready
      ? { type: "StatefulSetReady", status: "True", reason: Reason.Ready, message: facts.backend.message }
      : { type: "StatefulSetReady", status: "False", reason: Reason.Provisioning, message: facts.backend.message }

  const dashboard: ConditionState = !dashboardOn
    ? { type: "DashboardReady", status: "True", reason: Reason.Disabled, message: "the dashboard is disabled" }
    : facts.trafficStopped
      ? {
          type: "DashboardReady",
          status: "False",
          reason: Reason.TrafficStopped,
          message: "scaled to 0 while the exportImport upgrade runs"
        }
      : facts.dashboard.ready
        ? { type: "DashboardReady", status: "True", reason: Reason.Ready, message: facts.dashboard.message }
        : { type: "DashboardReady", status: "False", reason: Reason.Provisioning, message: facts.dashboard.message }

  const gateway: ConditionState =
    facts.gateway !== undefined
      ? fromRouting("GatewayReady", facts.gateway)
      : {
          type: "GatewayReady",
          status: "True",
          reason: Reason.Skipped,
          message:
            networking === undefined
              ? "no networking: the API is reachable inside the cluster only"
              : networking.mode === "ingress"
                ? "networking mode ingress"
                : "routes attach to existing Gateways (spec.networking.parentRefs)"
        }

  const routes: ConditionState = facts.trafficStopped
    ? {
        type: "HTTPRouteReady",
        status: "False",
        reason: Reason.TrafficStopped,
        message: "public routes are withdrawn while the exportImport upgrade runs"
      }
    : facts.routes !== undefined
      ? fromRouting("HTTPRouteReady", facts.routes)
      : {
          type: "HTTPRouteReady",
          status: "True",
          reason: Reason.Skipped,
          message: "no networking: the API is reachable inside the cluster only"
        }

  const ready: ConditionState =
    blocking.length > 0
      ? {
          type: "Ready",
          status: "False",
          reason: Reason.ValidationFailed,
          message: blocking.map((problem) => `${problem.field}: ${problem.message}`).join("; ")
        }
      : facts.upgradeFailed
        ? {
            type: "Ready",
            status: "False",
            reason: Reason.UpgradeFailed,
            message: "the upgrade failed (see UpgradeInProgress)"
          }
        : !facts.backend.ready
          ? { type: "Ready", status: "False", reason: Reason.WaitingForBackend, message: facts.backend.message }
          : !routingReady(facts)
            ? {
                type: "Ready",
                status: "False",
                reason: Reason.WaitingForGateway,
                message: facts.trafficStopped
                  ? routes.message
                  : `${gateway.status === "False" ? gateway.message : routes.message}`
              }
            : {
                type: "Ready",
                status: "True",
                reason: Reason.BackendReady,
                message: "the backend is ready and reachable"
              }

  return [
    ready,
    available("ConfigMapReady", facts.inPlace.configMap, "the backend ConfigMap"),
    secrets,
    pvcCondition,
    available("ServiceReady", facts.inPlace.services, "the backend Service and its headless Service"),
    dashboardOn
      ? available("DashboardServiceReady", facts.inPlace.dashboardService, "the dashboard Service")
      : {
          type: "DashboardServiceReady",
          status: "True",
          reason: Reason.Disabled,
          message: "the dashboard is disabled"
        },
    statefulSet,
    dashboard,
    gateway,
    routes,
    ...(facts.proxySettings !== undefined ? [facts.proxySettings] : []),
    ...facts.upgradeConditions
  ]
}
