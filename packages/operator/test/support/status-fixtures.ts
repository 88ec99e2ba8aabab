/**
 * ConvexInstances and their neighbours in the states `status` must describe (Ready, failing, upgrading, on an
 * emptyDir, paused, never reported), as the apiserver would return them, at the fixed time {@link now}.
 */
import type { KubeObject } from "@convex-operator/k8s"
import type { StatusInputs } from "../../src/status-report/build.js"

export const now = new Date("2026-01-15T12:00:00Z")
export const ns = "prod"
const version = "652b828b5129e6cdbcaa3c20efa8d116d09ff3bf"
const next = "1111111111111111111111111111111111111111"

const condition = (type: string, status: string, reason: string, message: string, at = "2026-01-15T10:00:00Z") => ({
  type,
  status,
  observedGeneration: 1,
  lastTransitionTime: at,
  reason,
  message
})

/** The conditions of a settled, healthy instance with public hosts. */
const healthy = [
  condition("Ready", "True", "BackendReady", "the backend is ready and reachable"),
  condition("ConfigMapReady", "True", "Available", "in place: the backend ConfigMap"),
  condition("SecretsReady", "True", "Available", "in place: the generated Secret"),
  condition("PVCReady", "True", "Available", "in place: the data PersistentVolumeClaim"),
  condition("DataPersistent", "True", "OnClaim", "/convex/data is on PersistentVolumeClaim app-backend-pvc"),
  condition("StatefulSetReady", "True", "Ready", "the backend pod is ready", "2026-01-13T12:00:00Z"),
  condition("GatewayReady", "True", "Available", "accepted and programmed"),
  condition("UpgradeInProgress", "False", "UpToDate", `running version ${version}`),
  condition("ExportCompleted", "False", "NotStarted", "no upgrade has run"),
  condition("ImportCompleted", "False", "NotStarted", "no upgrade has run")
]

const instance = (
  name: string,
  spec: object,
  status: object | undefined,
  annotations?: Record<string, string>
): KubeObject => ({
  apiVersion: "convex.icod.de/v1alpha1",
  kind: "ConvexInstance",
  metadata: {
    name,
    namespace: ns,
    uid: `uid-${name}`,
    generation: 1,
    creationTimestamp: "2026-01-01T09:00:00Z",
    ...(annotations !== undefined ? { annotations } : {})
  },
  spec: { environment: "prod", version, ...spec },
  ...(status !== undefined ? { status } : {})
})

const networking = {
  host: "api.example.com",
  dashboardHost: "dashboard.example.com",
  tlsSecretRef: "tls"
}

const claim = (name: string, phase = "Bound"): KubeObject =>
  ({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace: ns },
    spec: { storageClassName: "fast", resources: { requests: { storage: "10Gi" } } },
    status: { phase, ...(phase === "Bound" ? { capacity: { storage: "20Gi" } } : {}) }
  }) as KubeObject

export const backup = (
  name: string,
  instanceName: string,
  created: string,
  status: Record<string, unknown> | undefined
): KubeObject =>
  ({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexBackup",
    metadata: { name, namespace: ns, creationTimestamp: created },
    spec: { instanceRef: { name: instanceName }, target: { pvc: {} } },
    ...(status !== undefined ? { status } : {})
  }) as KubeObject

const schedule = (name: string, instanceName: string, cron: string, suspend = false): KubeObject =>
  ({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexScheduledBackup",
    metadata: { name, namespace: ns },
    spec: { instanceRef: { name: instanceName }, schedule: cron, target: { pvc: {} }, suspend }
  }) as KubeObject

const warning = (instanceName: string, reason: string, note: string, at: string, count?: number): KubeObject =>
  ({
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: { name: `${instanceName}.${reason.toLowerCase()}`, namespace: ns, creationTimestamp: at },
    type: "Warning",
    reason,
    note,
    eventTime: at,
    regarding: { apiVersion: "convex.icod.de/v1alpha1", kind: "ConvexInstance", name: instanceName, namespace: ns },
    ...(count !== undefined ? { series: { count, lastObservedTime: at } } : {})
  }) as KubeObject

const completed = (name: string, finishedAt: string, size: string, instanceName = "app") =>
  backup(name, instanceName, finishedAt, {
    phase: "Completed",
    finishedAt,
    size,
    location: `pvc://app-backups/${name}.zip`
  })

const inputs = (object: KubeObject, rest: Partial<StatusInputs> = {}): StatusInputs => ({
  instance: object,
  claim: undefined,
  backups: [],
  schedules: [],
  upgradeWork: undefined,
  events: [],
  problems: [],
  now,
  ...rest
})

const endpoints = {
  apiUrl: "https://api.example.com",
  siteUrl: "https://api.example.com/http",
  dashboardUrl: "https://dashboard.example.com"
}

/** Ready, backed up last night at 03:00 by its schedule, with one older failure and another instance's backup. */
export const ready = inputs(
  instance(
    "app",
    { networking },
    {
      phase: "Ready",
      currentVersion: version,
      observedGeneration: 1,
      endpoints,
      lastRestartTime: "2026-01-13T12:00:00Z",
      conditions: [
        ...healthy,
        condition(
          "ProxySettingsApplied",
          "False",
          "GatewayLimitsApply",
          "the Gateway's own request body limit applies: NGINX Gateway Fabric's ClientSettingsPolicy CRD is not installed"
        )
      ]
    }
  ),
  {
    claim: claim("app-backend-pvc"),
    backups: [
      completed("app-20260114030000", "2026-01-14T03:02:10Z", "12.4Mi"),
      completed("app-20260115030000", "2026-01-15T03:01:40Z", "12.6Mi"),
      backup("app-20260113030000", "app", "2026-01-13T03:00:00Z", { phase: "Failed", message: "the Job failed" }),
      completed("other-20260115110000", "2026-01-15T11:00:00Z", "1Mi", "other")
    ],
    schedules: [schedule("nightly", "app", "0 3 * * *"), schedule("weekly-other", "other", "@weekly")]
  }
)

/** Not Ready: its database Secret is missing; Warning events (one repeated) about it, and one about another object. */
export const failing = inputs(
  instance(
    "app",
    { backend: { db: { engine: "postgres", secretRef: "pg", urlKey: "url" }, storage: { mode: "external" } } },
    {
      phase: "Error",
      observedGeneration: 1,
      endpoints: { apiUrl: "http://app-backend.prod.svc:3210", siteUrl: "http://app-backend.prod.svc:3211" },
      conditions: [
        condition("Ready", "False", "ValidationFailed", 'spec.backend.db.secretRef: Secret "pg" does not exist'),
        condition("SecretsReady", "False", "ValidationFailed", 'spec.backend.db.secretRef: Secret "pg" does not exist'),
        condition("PVCReady", "True", "Available", "in place: the data PersistentVolumeClaim"),
        condition("DataPersistent", "True", "OnClaim", "/convex/data is on PersistentVolumeClaim app-backend-pvc"),
        condition(
          "StatefulSetReady",
          "False",
          "ValidationFailed",
          "the backend is not rolled while its references are invalid (see SecretsReady)"
        ),
        condition("UpgradeInProgress", "False", "UpToDate", `installing version ${version}`)
      ]
    }
  ),
  {
    claim: claim("app-backend-pvc", "Pending"),
    events: [
      warning(
        "app",
        "ValidationFailed",
        'spec.backend.db.secretRef: Secret "pg" does not exist',
        "2026-01-15T11:58:00Z",
        7
      ),
      warning("app", "BackupFailed", "ConvexBackup app-1 failed: the Job failed", "2026-01-15T11:00:00Z"),
      warning("other", "ValidationFailed", "not about app", "2026-01-15T11:59:00Z")
    ]
  }
)

/** An exportImport upgrade at its import, the pre-upgrade backup done; the import Job runs. */
export const upgrading = inputs(
  instance(
    "app",
    { version: next, maintenance: { upgradeStrategy: "exportImport" } },
    {
      phase: "Upgrading",
      currentVersion: version,
      observedGeneration: 1,
      endpoints: { apiUrl: "http://app-backend.prod.svc:3210", siteUrl: "http://app-backend.prod.svc:3211" },
      dataClaims: { current: "app-backend-pvc" },
      upgrade: {
        phase: "Importing",
        strategy: "exportImport",
        stepStartedAt: "2026-01-15T11:55:00Z",
        attempt: 1,
        maxAttempt: 3,
        backup: "app-pre-upgrade-0a1b2c3d4e-1",
        savedEnvSecret: "app-env-0a1b2c3d4e",
        dataClaim: "app-backend-pvc-g1",
        targetHash: "0a1b2c3d4e5f6a7b",
        toVersion: next,
        fromVersion: version,
        fromBackendImage: `ghcr.io/get-convex/convex-backend:${version}`,
        fromDashboardImage: `ghcr.io/get-convex/convex-dashboard:${version}`,
        startedAt: "2026-01-15T11:40:00Z"
      },
      conditions: [
        condition("Ready", "False", "Importing", "importing the snapshot into the new version"),
        condition("DataPersistent", "True", "OnClaim", "/convex/data is on PersistentVolumeClaim app-backend-pvc-g1"),
        condition("StatefulSetReady", "True", "Ready", "the backend pod is ready", "2026-01-15T11:54:00Z"),
        condition("UpgradeInProgress", "True", "Importing", `upgrading to ${next}: importing the snapshot`),
        condition(
          "ExportCompleted",
          "True",
          "Succeeded",
          "the pre-upgrade ConvexBackup app-pre-upgrade-0a1b2c3d4e-1 completed"
        ),
        condition("ImportCompleted", "False", "InProgress", "the import Job runs")
      ]
    }
  ),
  {
    claim: claim("app-backend-pvc-g1"),
    backups: [completed("app-pre-upgrade-0a1b2c3d4e-1", "2026-01-15T11:44:30Z", "13.1Mi")],
    upgradeWork: {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "app-import-0a1b2c3d4e", namespace: ns },
      status: { active: 1 }
    } as KubeObject
  }
)

/** On an emptyDir holding SQLite data: a due restart is held by the data guard. */
export const emptyDir = inputs(
  instance(
    "scratch",
    { environment: "dev", backend: { storage: { pvc: { enabled: false } } }, dashboard: { enabled: false } },
    {
      phase: "Ready",
      currentVersion: version,
      observedGeneration: 1,
      endpoints: { apiUrl: "http://scratch-backend.prod.svc:3210", siteUrl: "http://scratch-backend.prod.svc:3211" },
      conditions: [
        condition("Ready", "True", "BackendReady", "the backend is ready and reachable"),
        condition(
          "PVCReady",
          "True",
          "Disabled",
          "no claim: spec.backend.storage.pvc.enabled is false, so /convex/data is an emptyDir (DataPersistent says what that loses)"
        ),
        condition(
          "DataPersistent",
          "False",
          "ReplacementHeld",
          "/convex/data is an emptyDir holding the SQLite database: the periodic restart is held; set spec.backend.storage.acceptDataLoss to true to allow it"
        ),
        condition("StatefulSetReady", "True", "Ready", "the backend pod is ready", "2026-01-01T10:00:00Z"),
        condition("UpgradeInProgress", "False", "UpToDate", `running version ${version}`)
      ]
    }
  )
)

/** Paused by the annotation, Ready before it. */
export const paused = inputs(
  instance(
    "app",
    { networking },
    {
      phase: "Paused",
      currentVersion: version,
      observedGeneration: 1,
      endpoints,
      conditions: [
        ...healthy,
        condition(
          "ReconciliationPaused",
          "True",
          "Paused",
          'the annotation convex.icod.de/pause-reconciliation is "true": the operator changes nothing for this instance (a running Job finishes on its own; an upgrade waits at its step); remove the annotation to resume (kubectl annotate convexinstance app convex.icod.de/pause-reconciliation-)',
          "2026-01-15T11:30:00Z"
        )
      ]
    },
    { "convex.icod.de/pause-reconciliation": "true" }
  ),
  {
    claim: claim("app-backend-pvc"),
    backups: [completed("app-20260115030000", "2026-01-15T03:01:40Z", "12.6Mi")],
    schedules: [schedule("nightly", "app", "0 3 * * *", true)]
  }
)

/** Just created: no operator has written a status; a read was forbidden. */
export const unreported = inputs(instance("fresh", {}, undefined), {
  problems: ["cannot list events: Forbidden: events.events.k8s.io is forbidden"]
})
