/**
 * ConvexInstance specs the apiserver must refuse, each with the field it must name: the admission test checks them
 * against the CRD and the decoder, the hostile-input fault test creates them beside a running operator.
 */
export const valid = { environment: "dev", version: "0123456789abcdef0123456789abcdef01234567" }
const db = (extra: object) => ({ ...valid, backend: { db: extra } })
const s3 = (extra: object) => ({
  ...valid,
  backend: { db: { engine: "postgres", secretRef: "pg", urlKey: "url" }, s3: extra }
})
const restoreS3 = { bucket: "backups", key: "prod/app/a.zip", secretRef: { name: "s3" } }
const restoreDeployment = { url: "http://old-convex:3210", adminKeySecretRef: { name: "old-admin" } }
const net = (extra: object) => ({ ...valid, networking: { host: "api.example.com", ...extra } })
const securityPod = (pod: object) => ({ ...valid, backend: { security: { pod } } })

/** [what, spec, the field the apiserver must name]. */
export const invalidSpecs: ReadonlyArray<readonly [string, unknown, string]> = [
  ["an unknown environment", { ...valid, environment: "staging" }, "spec.environment"],
  ["no environment", { version: valid.version }, "spec.environment"],
  ["no version", { environment: "dev" }, "spec.version"],
  ["an empty version", { ...valid, version: "" }, "spec.version"],
  ["a version that is no image tag", { ...valid, version: "v1 beta!" }, "spec.version"],
  ["an unknown database engine", db({ engine: "oracle" }), "spec.backend.db.engine"],
  ["postgres without secretRef", db({ engine: "postgres", urlKey: "url" }), "spec.backend.db.secretRef"],
  ["mysql without urlKey", db({ engine: "mysql", secretRef: "db" }), "spec.backend.db.urlKey"],
  [
    "a database name with '-'",
    db({ engine: "postgres", secretRef: "pg", urlKey: "url", databaseName: "convex-prod" }),
    "spec.backend.db.databaseName"
  ],
  [
    "a secretRef that is no object name",
    db({ engine: "postgres", secretRef: "PG_Secret", urlKey: "url" }),
    "spec.backend.db.secretRef"
  ],
  ["an unknown storage mode", { ...valid, backend: { storage: { mode: "cloud" } } }, "spec.backend.storage.mode"],
  [
    "external storage with SQLite",
    { ...valid, backend: { storage: { mode: "external" } } },
    "spec.backend.storage.mode"
  ],
  [
    "a PVC size that is no quantity",
    { ...valid, backend: { storage: { pvc: { enabled: true, size: "20 GB" } } } },
    "spec.backend.storage.pvc.size"
  ],
  [
    "acceptDataLoss that is no boolean",
    { ...valid, backend: { storage: { pvc: { enabled: false }, acceptDataLoss: "yes" } } },
    "spec.backend.storage.acceptDataLoss"
  ],
  [
    "pvc.enabled that is no boolean",
    { ...valid, backend: { storage: { pvc: { enabled: "no" } } } },
    "spec.backend.storage.pvc.enabled"
  ],
  [
    "an unknown PVC deletion policy",
    { ...valid, backend: { storage: { pvc: { deletionPolicy: "Keep" } } } },
    "spec.backend.storage.pvc.deletionPolicy"
  ],
  [
    "a memory limit that is no quantity",
    { ...valid, backend: { resources: { limits: { memory: "1 gig" } } } },
    "spec.backend.resources.limits.memory"
  ],
  [
    "a database CA in a Secret and a ConfigMap",
    db({ engine: "postgres", secretRef: "pg", urlKey: "url", caSecretRef: "ca", caConfigMapRef: "ca" }),
    "spec.backend.db.caConfigMapRef"
  ],
  [
    "a database CA key without a CA",
    db({ engine: "postgres", secretRef: "pg", urlKey: "url", caKey: "ca.crt" }),
    "spec.backend.db.caKey"
  ],
  ["a database CA for SQLite", db({ caSecretRef: "ca" }), "spec.backend.db.caSecretRef"],
  [
    "a restore location with a CA Secret and a CA ConfigMap",
    { ...valid, restore: { from: { s3: { ...restoreS3, caSecretRef: "ca", caConfigMapRef: "ca" } } } },
    "spec.restore.from.s3.caConfigMapRef"
  ],
  [
    "a restore location with caKey but no CA object",
    { ...valid, restore: { from: { s3: { ...restoreS3, caKey: "ca.pem" } } } },
    "spec.restore.from.s3.caKey"
  ],
  [
    "a restore from a live deployment and a backup",
    { ...valid, restore: { from: { backup: "b", deployment: restoreDeployment } } },
    "spec.restore.from"
  ],
  ["a restore from nothing", { ...valid, restore: { from: {} } }, "spec.restore.from"],
  [
    "a live deployment URL without a scheme",
    { ...valid, restore: { from: { deployment: { ...restoreDeployment, url: "old-convex:3210" } } } },
    "spec.restore.from.deployment.url"
  ],
  [
    "a live deployment without its admin key Secret",
    { ...valid, restore: { from: { deployment: { url: restoreDeployment.url } } } },
    "spec.restore.from.deployment.adminKeySecretRef"
  ],
  [
    "an instance secret Secret that is no object name",
    { ...valid, backend: { instanceSecretRef: { name: "Old_Secret" } } },
    "spec.backend.instanceSecretRef.name"
  ],
  [
    "an instance secret key that is no Secret key",
    { ...valid, backend: { instanceSecretRef: { name: "old", key: "INSTANCE SECRET" } } },
    "spec.backend.instanceSecretRef.key"
  ],
  [
    "the instance name and the instance secret under one key",
    { ...valid, backend: { instanceSecretRef: { name: "old", key: "OLD", nameKey: "OLD" } } },
    "spec.backend.instanceSecretRef.nameKey"
  ],
  ["S3 without a Secret", s3({ enabled: true }), "spec.backend.s3.secretRef"],
  [
    "an S3 CA in a Secret and a ConfigMap",
    s3({ enabled: true, secretRef: "s3", caSecretRef: "ca", caConfigMapRef: "ca" }),
    "spec.backend.s3.caConfigMapRef"
  ],
  [
    "a bucket inline and by key",
    s3({ enabled: true, secretRef: "s3", bucket: "b", bucketKey: "bucket" }),
    "spec.backend.s3.bucketKey"
  ],
  [
    "an endpoint without scheme",
    s3({ enabled: true, secretRef: "s3", endpoint: "minio:9000" }),
    "spec.backend.s3.endpoint"
  ],
  [
    "an unknown endpoint scheme",
    s3({ enabled: true, secretRef: "s3", endpointScheme: "ftp" }),
    "spec.backend.s3.endpointScheme"
  ],
  ["an env var without name", { ...valid, backend: { env: [{ value: "x" }] } }, "spec.backend.env[0].name"],
  ["a runAsUser that is no integer", securityPod({ runAsUser: "root" }), "spec.backend.security.pod.runAsUser"],
  [
    "a Localhost seccomp profile without file",
    securityPod({ seccompProfile: { type: "Localhost" } }),
    "spec.backend.security.pod.seccompProfile.localhostProfile"
  ],
  ["zero dashboard replicas", { ...valid, dashboard: { replicas: 0 } }, "spec.dashboard.replicas"],
  ["a string for a boolean", { ...valid, dashboard: { enabled: "yes" } }, "spec.dashboard.enabled"],
  ["networking without host", { ...valid, networking: { tlsSecretRef: "tls" } }, "spec.networking.host"],
  ["an upper-case host", net({ host: "Convex.Example.COM" }), "spec.networking.host"],
  ["a wildcard host", net({ host: "*.example.com" }), "spec.networking.host"],
  ["a site host equal to the API host", net({ siteHost: "api.example.com" }), "spec.networking.siteHost"],
  [
    "a dashboard host equal to the site host",
    net({ siteHost: "s.example.com", dashboardHost: "s.example.com" }),
    "spec.networking.dashboardHost"
  ],
  ["parentRefs with an Ingress", net({ mode: "ingress", parentRefs: [{ name: "gw" }] }), "spec.networking.parentRefs"],
  ["an unknown routing mode", net({ mode: "loadbalancer" }), "spec.networking.mode"],
  ["a parentRef without name", net({ parentRefs: [{ namespace: "gateways" }] }), "spec.networking.parentRefs[0].name"],
  ["an origin without scheme", net({ cloudOrigin: "api.example.com" }), "spec.networking.cloudOrigin"],
  ["a TLS Secret name with '_'", net({ tlsSecretRef: "tls_secret" }), "spec.networking.tlsSecretRef"],
  ["an unknown site route", net({ siteRoute: "devProxy" }), "spec.networking.siteRoute"],
  [
    "a body size in Kubernetes units (NGINX takes k, m, g)",
    net({ limits: { maxRequestBodySize: "200Mi" } }),
    "spec.networking.limits.maxRequestBodySize"
  ],
  [
    "a body size of five digits",
    net({ limits: { maxRequestBodySize: "20000m" } }),
    "spec.networking.limits.maxRequestBodySize"
  ],
  ["a read timeout of 0 s", net({ limits: { readTimeoutSeconds: 0 } }), "spec.networking.limits.readTimeoutSeconds"],
  [
    "a send timeout of five digits",
    net({ limits: { sendTimeoutSeconds: 10000 } }),
    "spec.networking.limits.sendTimeoutSeconds"
  ],
  [
    "a read timeout as a duration",
    net({ limits: { readTimeoutSeconds: "1h" } }),
    "spec.networking.limits.readTimeoutSeconds"
  ],
  [
    "an annotation key with spaces",
    net({ gatewayAnnotations: { "bad key": "x" } }),
    "spec.networking.gatewayAnnotations"
  ],
  [
    "an unknown upgrade strategy",
    { ...valid, maintenance: { upgradeStrategy: "blueGreen" } },
    "spec.maintenance.upgradeStrategy"
  ],
  [
    "exportImport without a pre-upgrade backup (its import needs the export)",
    { ...valid, maintenance: { upgradeStrategy: "exportImport", preUpgradeBackup: { enabled: false } } },
    "spec.maintenance.preUpgradeBackup.enabled"
  ],
  [
    "exportImport with mysql (a fresh database would need a new admin key)",
    {
      ...valid,
      backend: { db: { engine: "mysql", secretRef: "db", urlKey: "url" } },
      maintenance: { upgradeStrategy: "exportImport" }
    },
    "spec.maintenance.upgradeStrategy"
  ],
  [
    "a restart interval in days",
    { ...valid, maintenance: { restartInterval: "7d" } },
    "spec.maintenance.restartInterval"
  ],
  [
    "a CPU target over 100 %",
    { ...valid, scale: { backend: { cpuTargetUtilization: 150 } } },
    "spec.scale.backend.cpuTargetUtilization"
  ],
  [
    "a max memory that is no quantity",
    { ...valid, scale: { backend: { maxMemory: "lots" } } },
    "spec.scale.backend.maxMemory"
  ],
  [
    "metrics.enabled that is no boolean",
    { ...valid, backend: { metrics: { enabled: "yes" } } },
    "spec.backend.metrics.enabled"
  ],
  [
    "a PodMonitor label key with spaces",
    { ...valid, backend: { metrics: { podMonitorLabels: { "bad key": "x" } } } },
    "spec.backend.metrics.podMonitorLabels"
  ],
  [
    "a PodMonitor label value with spaces",
    { ...valid, backend: { metrics: { podMonitorLabels: { release: "kube prometheus" } } } },
    "spec.backend.metrics.podMonitorLabels.release"
  ],
  [
    "podDisruptionBudget.enabled that is no boolean",
    { ...valid, backend: { podDisruptionBudget: { enabled: 1 } } },
    "spec.backend.podDisruptionBudget.enabled"
  ],
  [
    "a NetworkPolicy namespace that is no namespace name",
    { ...valid, backend: { networkPolicy: { enabled: true, allowFromNamespaces: ["Ingress_NGINX"] } } },
    "spec.backend.networkPolicy.allowFromNamespaces[0]"
  ],
  // Hostile input: huge strings, unicode and control characters, absurd numbers, references out of the namespace.
  ["a 100 000-character version", { ...valid, version: "a".repeat(100_000) }, "spec.version"],
  ["a version with a newline", { ...valid, version: "abc\ndef" }, "spec.version"],
  ["a unicode host", net({ host: "cönvex.example.com" }), "spec.networking.host"],
  ["an emoji host", net({ host: "\u{1F600}.example.com" }), "spec.networking.host"],
  ["a host with a trailing dot", net({ host: "api.example.com." }), "spec.networking.host"],
  ["a 300-character host", net({ host: `${"a.".repeat(149)}io` }), "spec.networking.host"],
  ["a host with a NUL byte", net({ host: "api\u0000.example.com" }), "spec.networking.host"],
  ["2^31 dashboard replicas", { ...valid, dashboard: { replicas: 2 ** 31 } }, "spec.dashboard.replicas"],
  ["an empty env var name", { ...valid, backend: { env: [{ name: "", value: "x" }] } }, "spec.backend.env[0].name"],
  [
    "an env var named INSTANCE_SECRET (the operator's own)",
    {
      ...valid,
      backend: {
        env: [
          { name: "A", value: "x" },
          { name: "INSTANCE_SECRET", value: "0000" }
        ]
      }
    },
    "spec.backend.env[1].name"
  ],
  [
    "an env var named INSTANCE_NAME",
    { ...valid, backend: { env: [{ name: "INSTANCE_NAME", value: "x" }] } },
    "spec.backend.env[0].name"
  ],
  ["a host label of 64 characters", net({ host: `${"a".repeat(64)}.example.com` }), "spec.networking.host"],
  [
    "257 env vars",
    { ...valid, backend: { env: Array.from({ length: 257 }, (_, i) => ({ name: `V${i}`, value: "x" })) } },
    "spec.backend.env"
  ],
  [
    "a database Secret in another namespace",
    db({ engine: "postgres", secretRef: "kube-system/admin", urlKey: "url" }),
    "spec.backend.db.secretRef"
  ],
  [
    "a database Secret path with '..'",
    db({ engine: "postgres", secretRef: "../admin", urlKey: "url" }),
    "spec.backend.db.secretRef"
  ],
  ["a TLS Secret in another namespace", net({ tlsSecretRef: "kube-system/tls" }), "spec.networking.tlsSecretRef"],
  ["a urlKey with a path", db({ engine: "postgres", secretRef: "pg", urlKey: "../url" }), "spec.backend.db.urlKey"],
  [
    "a database name with SQL",
    db({ engine: "postgres", secretRef: "pg", urlKey: "url", databaseName: "x; DROP TABLE y" }),
    "spec.backend.db.databaseName"
  ],
  [
    "a negative CPU target",
    { ...valid, scale: { backend: { cpuTargetUtilization: -5 } } },
    "spec.scale.backend.cpuTargetUtilization"
  ],
  ["a javascript: origin", net({ cloudOrigin: "javascript:alert(1)" }), "spec.networking.cloudOrigin"],
  ["spec as an array", [valid], "spec"],
  ["an upper-case environment", { ...valid, environment: "DEV" }, "spec.environment"],
  ["an image with spaces", { ...valid, backend: { image: "evil image" } }, "spec.backend.image"]
]
