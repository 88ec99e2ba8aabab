/**
 * Convex's own production defaults (issue 14, section 6): the backend environment Convex's docker-compose.yml
 * gives, what `environment: prod` changes, `/metrics` kept off public hosts, and the optional PodMonitor,
 * PodDisruptionBudget and NetworkPolicy.
 */
import { childKinds, type Decision, decide } from "@convex-operator/core"
import {
  documentRetentionDelaySeconds,
  type HTTPRoute,
  type Ingress,
  type NetworkPolicy
} from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { entropy, find, minimal, now } from "../decide/support.js"

const render = (spec: Record<string, unknown> = {}, podMonitors = false): Decision =>
  decide(minimal(spec), { objects: [], entropy }, now, {
    operator: { image: "ghcr.io/icod-de/convex-operator:test" },
    podMonitors
  })
const config = (spec: Record<string, unknown> = {}) => find(render(spec), "ConfigMap", "demo-backend-config").data
const kinds = (decision: Decision) => decision.desired.map((object) => `${object.kind}/${object.metadata.name}`)
const container = (spec: Record<string, unknown>) => {
  const found = find(render(spec), "StatefulSet", "demo-backend").spec.template.spec.containers[0]
  if (found === undefined) throw new Error("no container")
  return found
}

describe("backend environment defaults (Convex's docker-compose.yml)", () => {
  it("keeps 2 days of document history, in seconds", () => {
    expect(documentRetentionDelaySeconds).toBe(172800)
    expect(config().DOCUMENT_RETENTION_DELAY).toBe("172800")
  })

  it("disables /metrics unless backend.metrics.enabled", () => {
    expect(config().DISABLE_METRICS_ENDPOINT).toBe("true")
    expect(config({ backend: { metrics: { enabled: true } } })).not.toHaveProperty("DISABLE_METRICS_ENDPOINT")
  })

  it("lets backend.env override both: container env wins over the ConfigMap's envFrom", () => {
    const env = [
      { name: "DOCUMENT_RETENTION_DELAY", value: "3600" },
      { name: "DISABLE_METRICS_ENDPOINT", value: "false" }
    ]
    expect(container({ backend: { env } }).env).toEqual(expect.arrayContaining(env))
    expect(container({ backend: { env } }).envFrom).toEqual([{ configMapRef: { name: "demo-backend-config" } }])
  })
})

describe("environment", () => {
  it("prod redacts logs to clients by default, dev does not", () => {
    expect(config({ environment: "prod" }).REDACT_LOGS_TO_CLIENT).toBe("true")
    expect(config({ environment: "dev" })).not.toHaveProperty("REDACT_LOGS_TO_CLIENT")
  })

  it("an explicit logging.redactLogsToClient wins over the environment", () => {
    expect(config({ environment: "prod", backend: { logging: { redactLogsToClient: false } } })).not.toHaveProperty(
      "REDACT_LOGS_TO_CLIENT"
    )
    expect(
      config({ environment: "dev", backend: { logging: { redactLogsToClient: true } } }).REDACT_LOGS_TO_CLIENT
    ).toBe("true")
  })
})

describe("/metrics on public hosts", () => {
  const apiRule = (decision: Decision, name: string) =>
    (find(decision, "HTTPRoute", name) as HTTPRoute).spec.rules.map((rule) => ({
      path: rule.matches[0]?.path.value,
      backends: (rule.backendRefs ?? []).length
    }))

  it("the API route sends /metrics nowhere, metrics enabled or not", () => {
    for (const enabled of [false, true]) {
      const decision = render({ networking: { host: "api.x.io" }, backend: { metrics: { enabled } } })
      expect(apiRule(decision, "demo-api")).toEqual([
        { path: "/", backends: 1 },
        { path: "/metrics", backends: 0 }
      ])
    }
  })

  it("a site route to the dev site proxy 3211 blocks /metrics too; the dashboard route does not", () => {
    const decision = render({
      networking: { host: "api.x.io", siteHost: "site.x.io", dashboardHost: "dash.x.io", siteRoute: "proxy" }
    })
    const site = find(decision, "HTTPRoute", "demo-site") as HTTPRoute
    // On 3211 the proxy's own /metrics answers; on 3210 behind a /http rewrite, /metrics is an HTTP action.
    const port = site.spec.rules[0]?.backendRefs?.[0]?.port
    expect(site.spec.rules.map((rule) => rule.matches[0]?.path.value)).toEqual(
      port === 3211 ? ["/", "/metrics"] : ["/"]
    )
    expect(apiRule(decision, "demo-dashboard")).toEqual([{ path: "/", backends: 1 }])
  })

  it("the Ingress sends /metrics to a Service without a selector, so without endpoints", () => {
    const decision = render({ networking: { host: "api.x.io", mode: "ingress" } })
    const ingress = find(decision, "Ingress", "demo-ingress") as Ingress
    expect(ingress.spec.rules[0]?.http.paths.map((path) => [path.path, path.backend.service.name])).toEqual([
      ["/", "demo-backend"],
      ["/metrics", "demo-metrics-blocked"]
    ])
    const blocked = find(decision, "Service", "demo-metrics-blocked")
    expect(blocked.spec.selector).toBeUndefined()
    expect(kinds(render({ networking: { host: "api.x.io" } }))).not.toContain("Service/demo-metrics-blocked")
  })
})

describe("PodMonitor", () => {
  const metrics = { backend: { metrics: { enabled: true, podMonitorLabels: { release: "prom" } } } }

  it("scrapes the backend pod's port http at /metrics when metrics are enabled and PodMonitors are served", () => {
    const monitor = find(render(metrics, true), "PodMonitor", "demo-backend")
    expect(monitor.spec).toEqual({
      selector: {
        matchLabels: {
          "app.kubernetes.io/name": "convex",
          "app.kubernetes.io/instance": "demo",
          "app.kubernetes.io/component": "backend"
        }
      },
      podMetricsEndpoints: [{ port: "http", path: "/metrics", scheme: "http" }]
    })
    expect(monitor.metadata.labels).toMatchObject({
      release: "prom",
      "app.kubernetes.io/managed-by": "convex-operator"
    })
    expect(monitor.metadata.ownerReferences?.[0]?.kind).toBe("ConvexInstance")
  })

  it("is absent without the Prometheus Operator's CRDs or with metrics disabled", () => {
    expect(kinds(render(metrics, false))).not.toContain("PodMonitor/demo-backend")
    expect(kinds(render({}, true))).not.toContain("PodMonitor/demo-backend")
  })

  it("a standard label given in podMonitorLabels cannot take the monitor out of the operator's watch", () => {
    const monitor = find(
      render(
        { backend: { metrics: { enabled: true, podMonitorLabels: { "app.kubernetes.io/instance": "x" } } } },
        true
      ),
      "PodMonitor",
      "demo-backend"
    )
    expect(monitor.metadata.labels["app.kubernetes.io/instance"]).toBe("demo")
  })
})

describe("PodDisruptionBudget", () => {
  it("is off by default", () => {
    expect(kinds(render())).not.toContain("PodDisruptionBudget/demo-backend")
  })

  it("when enabled, refuses every eviction of the one backend pod", () => {
    const budget = find(
      render({ backend: { podDisruptionBudget: { enabled: true } } }),
      "PodDisruptionBudget",
      "demo-backend"
    )
    expect(budget.spec).toEqual({
      maxUnavailable: 0,
      selector: {
        matchLabels: {
          "app.kubernetes.io/name": "convex",
          "app.kubernetes.io/instance": "demo",
          "app.kubernetes.io/component": "backend"
        }
      }
    })
  })
})

describe("NetworkPolicy", () => {
  const policy = (spec: Record<string, unknown>): NetworkPolicy =>
    find(render(spec), "NetworkPolicy", "demo-backend") as NetworkPolicy
  const peers = (spec: Record<string, unknown>) => policy(spec).spec.ingress.flatMap((rule) => rule.from)
  const ownPods = [
    {
      podSelector: {
        matchLabels: { "app.kubernetes.io/instance": "demo" },
        matchExpressions: [
          { key: "app.kubernetes.io/component", operator: "In", values: ["backend", "dashboard", "snapshot"] }
        ]
      }
    },
    { podSelector: { matchLabels: { "app.kubernetes.io/component": "backup", "convex.icod.de/instance": "demo" } } }
  ]

  it("is off by default", () => {
    expect(kinds(render())).not.toContain("NetworkPolicy/demo-backend")
  })

  it("selects the backend pod and restricts ingress to ports 3210 and 3211 only", () => {
    const rendered = policy({ backend: { networkPolicy: { enabled: true } } })
    expect(rendered.spec.podSelector.matchLabels).toMatchObject({ "app.kubernetes.io/component": "backend" })
    expect(rendered.spec.policyTypes).toEqual(["Ingress"])
    expect(rendered.spec.ingress.map((rule) => rule.ports)).toEqual([
      [
        { protocol: "TCP", port: 3210 },
        { protocol: "TCP", port: 3211 }
      ]
    ])
  })

  it("without networking admits only the instance's own pods: dashboard, backend, upgrade/restore and backup Jobs", () => {
    expect(peers({ backend: { networkPolicy: { enabled: true } } })).toEqual(ownPods)
  })

  it("admits the namespace of the operator's own Gateway, of parentRefs, and allowFromNamespaces", () => {
    expect(peers({ networking: { host: "api.x.io" }, backend: { networkPolicy: { enabled: true } } })).toEqual([
      ...ownPods,
      { podSelector: {} }
    ])
    expect(
      peers({
        networking: { host: "api.x.io", parentRefs: [{ name: "gw", namespace: "gateways" }] },
        backend: { networkPolicy: { enabled: true, allowFromNamespaces: ["monitoring"] } }
      })
    ).toEqual([
      ...ownPods,
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "gateways" } } },
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }
    ])
  })

  it("in ingress mode admits only what allowFromNamespaces names besides the instance's pods", () => {
    expect(
      peers({
        networking: { host: "api.x.io", mode: "ingress" },
        backend: { networkPolicy: { enabled: true, allowFromNamespaces: ["ingress-nginx"] } }
      })
    ).toEqual([...ownPods, { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } }])
  })
})

describe("removal", () => {
  it("every new kind is a child kind, so a disabled one is deleted as obsolete", () => {
    const listed = childKinds.map((child) => `${child.apiVersion}/${child.kind}`)
    expect(listed).toEqual(
      expect.arrayContaining([
        "policy/v1/PodDisruptionBudget",
        "networking.k8s.io/v1/NetworkPolicy",
        "monitoring.coreos.com/v1/PodMonitor"
      ])
    )
    const enabled = render(
      {
        backend: {
          podDisruptionBudget: { enabled: true },
          networkPolicy: { enabled: true },
          metrics: { enabled: true }
        }
      },
      true
    )
    const observed = enabled.desired.filter((object) =>
      ["PodDisruptionBudget", "NetworkPolicy", "PodMonitor"].includes(object.kind)
    )
    expect(observed).toHaveLength(3)
    const disabled = decide(minimal(), { objects: observed, entropy }, now, {
      operator: { image: "ghcr.io/icod-de/convex-operator:test" },
      podMonitors: true
    })
    expect(disabled.delete.map((object) => `${object.kind}/${object.name}`).sort()).toEqual([
      "NetworkPolicy/demo-backend",
      "PodDisruptionBudget/demo-backend",
      "PodMonitor/demo-backend"
    ])
  })
})
