/**
 * The full set of desired children, in a fixed order: config, secrets, storage, services, workloads, routing,
 * env Jobs of an upgrade.
 *
 * @module
 */
import { renderBackendConfigMap } from "./configmap.js"
import type { RenderContext } from "./context.js"
import { renderDashboardDeployment } from "./dashboard.js"
import { renderBackendDisruptionBudget } from "./disruption-budget.js"
import { renderEnvAccess } from "./env-access.js"
import { renderGateway } from "./gateway.js"
import { renderHttpRoutes } from "./httproute.js"
import { renderIngress } from "./ingress.js"
import { type EnvJobStep, renderUpgradeJob } from "./jobs.js"
import { renderBackendPodMonitor, renderMetricsBlockedService } from "./metrics.js"
import { renderBackendNetworkPolicy } from "./network-policy.js"
import type { ChildObject } from "./objects.js"
import { type ProxyPolicyKind, renderProxyPolicies } from "./proxy-limits.js"
import { renderDataPvc } from "./pvc.js"
import { type GeneratedSecrets, renderGeneratedSecret } from "./secret.js"
import { renderBackendHeadlessService, renderBackendService, renderDashboardService } from "./service.js"
import { renderSiteIngress } from "./site-ingress.js"
import { renderBackendStatefulSet } from "./statefulset.js"

/** What the plans decided about the children. */
export interface ChildrenOptions {
  /** The generated Secret's content. */
  readonly secrets: GeneratedSecrets
  /** Leave the backend StatefulSet out (its references are invalid; the running one is kept as it is). */
  readonly holdBackend: boolean
  /** Leave the public routes out and scale the dashboard to 0 (an exportImport upgrade stops traffic). */
  readonly trafficStopped: boolean
  /** The env Jobs to run (with their attempt), and the hash of the upgrade they belong to. */
  readonly jobs: ReadonlyArray<{ readonly step: EnvJobStep; readonly attempt: number }>
  /** Render the env Jobs' ServiceAccount, Role and RoleBinding (an exportImport upgrade runs). */
  readonly envAccess: boolean
  readonly upgradeHash: string
  /** The NGINX Gateway Fabric policy kinds the cluster serves (render the limits as those policies). */
  readonly proxyPolicies?: ReadonlyArray<ProxyPolicyKind>
  /** Whether the cluster serves Prometheus Operator PodMonitors (render one when metrics are enabled). */
  readonly podMonitors?: boolean
}

const present = <A>(value: A | undefined): ReadonlyArray<A> => (value === undefined ? [] : [value])

/** Every child that should exist. */
export const renderChildren = (context: RenderContext, options: ChildrenOptions): ReadonlyArray<ChildObject> => {
  const rendered = renderDashboardDeployment(context)
  const dashboard =
    rendered !== undefined && options.trafficStopped
      ? { ...rendered, spec: { ...rendered.spec, replicas: 0 } }
      : rendered
  return [
    renderBackendConfigMap(context),
    renderGeneratedSecret(context, options.secrets),
    ...present(renderDataPvc(context)),
    renderBackendService(context),
    renderBackendHeadlessService(context),
    ...(options.holdBackend ? [] : [renderBackendStatefulSet(context)]),
    ...present(renderBackendDisruptionBudget(context)),
    ...present(renderBackendNetworkPolicy(context)),
    ...present(renderBackendPodMonitor(context, options.podMonitors ?? false)),
    ...(dashboard !== undefined ? [renderDashboardService(context), dashboard] : []),
    ...present(renderGateway(context)),
    ...(options.trafficStopped
      ? []
      : [
          ...renderHttpRoutes(context),
          ...present(renderIngress(context)),
          ...present(renderSiteIngress(context)),
          ...renderProxyPolicies(context, options.proxyPolicies ?? [])
        ]),
    ...(context.instance.spec.networking?.mode === "ingress" ? [renderMetricsBlockedService(context)] : []),
    ...(options.envAccess ? renderEnvAccess(context, options.upgradeHash) : []),
    ...options.jobs.map((job) => renderUpgradeJob(context, job.step, options.upgradeHash, job.attempt))
  ]
}
