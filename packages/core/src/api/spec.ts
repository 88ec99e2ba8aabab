/**
 * `ConvexInstance.spec`: field-compatible with the reference Go operator (every manifest written for it is
 * accepted unchanged), with additive fixes where its wiring of Convex was wrong.
 *
 * @module
 */
import { Schema } from "effect"
import { crdExtra, crossField, doc, optional, withDefault } from "./annotations.js"
import { BackupTarget } from "./backup-target.js"
import { caBundleChecks } from "./ca-bundle.js"
import { InstanceSecretRef } from "./instance-secret-ref.js"
import { EnvVar, PodSecurityContext, ResourceRequirements, SecurityContext } from "./kube.js"
import {
  AnnotationMap,
  DataKey,
  GoDuration,
  Hostname,
  HttpUrl,
  ImageRef,
  ImageTag,
  Int32,
  NamespaceName,
  ObjectName,
  Quantity,
  qualifiedKeyMap
} from "./primitives.js"
import { ProxyLimitsSpec, SiteRoute } from "./proxy-settings.js"
import { RestoreSpec, restoreOnlyAtCreation } from "./restore.js"

// ---------------------------------------------------------------------------------------------------------------
// Shared pieces

/** Pod- and container-level security contexts for one workload. */
export const SecuritySpec = Schema.Struct({
  pod: optional(PodSecurityContext.pipe(doc("Pod-level security context of the workload."))),
  container: optional(SecurityContext.pipe(doc("Security context of the main container.")))
})
export type SecuritySpec = typeof SecuritySpec.Type

const Resources = ResourceRequirements.pipe(doc("Compute resource requests and limits of the container."))

// ---------------------------------------------------------------------------------------------------------------
// backend.db

export const DatabaseEngine = Schema.Literal("postgres", "mysql", "sqlite")
export type DatabaseEngine = typeof DatabaseEngine.Type

/** Variables the operator sets from its own state: admin keys are derived from them, so no override is allowed. */
export const operatorOwnedEnv = ["INSTANCE_NAME", "INSTANCE_SECRET"] as const

const BackendEnvVar = crossField(EnvVar, {
  check: (env) => !(operatorOwnedEnv as ReadonlyArray<string>).includes(env.name),
  rule: `!(self.name in [${operatorOwnedEnv.map((name) => `'${name}'`).join(", ")}])`,
  message:
    "INSTANCE_NAME and INSTANCE_SECRET are set by the operator (the admin key is derived from them): remove this entry; the instance secret lives in the generated Secret <name>-convex-secrets (to keep an existing one, name its Secret in backend.instanceSecretRef)",
  fieldPath: ".name",
  reason: "FieldValueForbidden"
})
/** A database name Convex can derive an instance name from: `INSTANCE_NAME` is this with `_` → `-`. */
export const DatabaseName = Schema.String.pipe(
  Schema.maxLength(63),
  Schema.pattern(/^[a-z0-9]([a-z0-9_]*[a-z0-9])?$/, {
    description: "a database name of lower-case letters, digits and '_' (such as convex_prod)"
  })
)

export const BackendDatabaseSpec = crossField(
  Schema.Struct({
    engine: withDefault(
      DatabaseEngine.pipe(doc("Database engine: sqlite (a file in the data volume), postgres or mysql.")),
      "sqlite"
    ),
    secretRef: optional(
      ObjectName.pipe(doc("Secret in this namespace holding the database URL. Required for postgres and mysql."))
    ),
    urlKey: optional(
      DataKey.pipe(
        doc(
          "Key of secretRef holding the database cluster URL, e.g. postgres://user:pass@host:5432 " +
            "(a username, no database name, no query parameters). Required for postgres and mysql."
        )
      )
    ),
    databaseName: optional(
      DatabaseName.pipe(
        doc(
          "Database to use. The backend's INSTANCE_NAME becomes this name with '_' replaced by '-'. " +
            "Defaults to the instance name with '-' replaced by '_'. The database must already exist."
        )
      )
    ),
    requireSSL: withDefault(
      Schema.Boolean.pipe(doc("Require TLS to the database. false sets DO_NOT_REQUIRE_SSL on the backend.")),
      true
    ),
    caSecretRef: optional(
      ObjectName.pipe(
        doc(
          "Secret in this namespace holding the PEM CA bundle that signed the database server's certificate " +
            "(CloudNativePG: <cluster>-ca). Mounted read-only in the backend; PG_CA_FILE or MYSQL_CA_FILE points at it."
        )
      )
    ),
    caConfigMapRef: optional(
      ObjectName.pipe(doc("ConfigMap in this namespace holding the database CA bundle (instead of caSecretRef)."))
    ),
    caKey: optional(
      DataKey.pipe(doc("Key of caSecretRef or caConfigMapRef holding the PEM bundle. Defaults to ca.crt."))
    )
  }).pipe(doc("The database the backend keeps its tables in.")),
  {
    check: (db) => db.engine === "sqlite" || db.secretRef !== undefined,
    rule: "self.engine == 'sqlite' || has(self.secretRef)",
    message: "secretRef is required when engine is postgres or mysql: name the Secret that holds the database URL",
    fieldPath: ".secretRef",
    reason: "FieldValueRequired"
  },
  {
    check: (db) => db.engine === "sqlite" || db.urlKey !== undefined,
    rule: "self.engine == 'sqlite' || has(self.urlKey)",
    message: "urlKey is required when engine is postgres or mysql: name the key of secretRef that holds the URL",
    fieldPath: ".urlKey",
    reason: "FieldValueRequired"
  },
  ...caBundleChecks,
  {
    check: (db) => db.engine !== "sqlite" || (db.caSecretRef === undefined && db.caConfigMapRef === undefined),
    rule: "self.engine != 'sqlite' || (!has(self.caSecretRef) && !has(self.caConfigMapRef))",
    message: "a database CA is for postgres or mysql: remove caSecretRef/caConfigMapRef, SQLite needs no connection",
    fieldPath: ".caSecretRef",
    reason: "FieldValueForbidden"
  }
)
export type BackendDatabaseSpec = typeof BackendDatabaseSpec.Type

// ---------------------------------------------------------------------------------------------------------------
// backend.storage

export const PvcDeletionPolicy = Schema.Literal("Retain", "Delete")
export type PvcDeletionPolicy = typeof PvcDeletionPolicy.Type

export const BackendPvcSpec = Schema.Struct({
  enabled: withDefault(
    Schema.Boolean.pipe(
      doc(
        "Keep /convex/data on a PersistentVolumeClaim (default true). false puts it on an emptyDir, which is lost " +
          "whenever the pod is replaced: the SQLite database, and the stored files and modules of any engine without S3."
      )
    ),
    true
  ),
  storageClassName: optional(ObjectName.pipe(doc("StorageClass of the claim; the cluster default when empty."))),
  size: optional(Quantity.pipe(doc("Requested capacity, e.g. 20Gi. Defaults to 10Gi."))),
  deletionPolicy: withDefault(
    PvcDeletionPolicy.pipe(
      doc(
        "What happens to the claim when the ConvexInstance is deleted: Retain (default) keeps the data, Delete removes it."
      )
    ),
    "Retain"
  )
})
export type BackendPvcSpec = typeof BackendPvcSpec.Type

export const StorageMode = Schema.Literal("sqlite", "external")
export type StorageMode = typeof StorageMode.Type

export const BackendStorageSpec = Schema.Struct({
  mode: withDefault(
    StorageMode.pipe(
      doc(
        "sqlite: the backend keeps state in its data volume. external: the database is postgres/mysql; " +
          "the data volume still holds stored files, modules and exports unless s3 is enabled."
      )
    ),
    "sqlite"
  ),
  pvc: withDefault(BackendPvcSpec.pipe(doc("The claim mounted at /convex/data.")), {}),
  acceptDataLoss: withDefault(
    Schema.Boolean.pipe(
      doc(
        "Allow the operator to replace a backend pod whose /convex/data is an emptyDir holding data (scheduled " +
          "restarts, upgrade rolls, the move onto the claim), which loses that data. While false such replacements " +
          "are held and the DataPersistent condition says so. Has no effect while the data is on a claim."
      )
    ),
    false
  )
})
export type BackendStorageSpec = typeof BackendStorageSpec.Type

// ---------------------------------------------------------------------------------------------------------------
// backend.s3

const bucketName = (purpose: string, variable: string) =>
  optional(Schema.String.pipe(Schema.minLength(1), doc(`Bucket for ${purpose} (${variable}).`)))

export const S3Buckets = Schema.Struct({
  exports: bucketName("snapshot exports", "S3_STORAGE_EXPORTS_BUCKET"),
  snapshotImports: bucketName("snapshot imports", "S3_STORAGE_SNAPSHOT_IMPORTS_BUCKET"),
  modules: bucketName("deployed function modules", "S3_STORAGE_MODULES_BUCKET"),
  files: bucketName("user files", "S3_STORAGE_FILES_BUCKET"),
  search: bucketName("search indexes", "S3_STORAGE_SEARCH_BUCKET")
}).pipe(doc("Bucket per purpose (S3_STORAGE_*_BUCKET). Each one not set here falls back to bucket/bucketKey."))
export type S3Buckets = typeof S3Buckets.Type

const exclusive = <K extends string>(inline: K, key: K) => ({
  check: (self: Partial<Record<K, unknown>>) => self[inline] === undefined || self[key] === undefined,
  rule: `!(has(self.${inline}) && has(self.${key}))`,
  message: `set ${inline} or ${key}, not both`,
  fieldPath: `.${key}`,
  reason: "FieldValueForbidden" as const
})

export const BackendS3Spec = crossField(
  Schema.Struct({
    enabled: withDefault(Schema.Boolean.pipe(doc("Store files, exports and modules in S3-compatible storage.")), false),
    secretRef: optional(
      ObjectName.pipe(
        doc("Secret with the S3 settings and credentials (for an ObjectBucketClaim: the claim's Secret).")
      )
    ),
    configMapRef: optional(
      ObjectName.pipe(doc("ConfigMap with bucket metadata (for an ObjectBucketClaim: the claim's ConfigMap)."))
    ),
    autoDetectOBC: withDefault(
      Schema.Boolean.pipe(
        doc("Read BUCKET_NAME/BUCKET_HOST/BUCKET_PORT/BUCKET_REGION from the ConfigMap named like secretRef.")
      ),
      true
    ),
    endpoint: optional(HttpUrl.pipe(doc("S3 endpoint URL (MinIO, R2, Ceph RGW); AWS when empty."))),
    endpointKey: optional(DataKey.pipe(doc("Key of secretRef holding the endpoint URL."))),
    endpointHostKey: optional(DataKey.pipe(doc("Key of configMapRef holding the endpoint host."))),
    endpointPortKey: optional(DataKey.pipe(doc("Key of configMapRef holding the endpoint port."))),
    endpointScheme: withDefault(
      Schema.Literal("http", "https").pipe(doc("Scheme used when the endpoint is built from host and port.")),
      "http"
    ),
    accessKeyIdKey: optional(DataKey.pipe(doc("Key of secretRef holding the access key id."))),
    secretAccessKeyKey: optional(DataKey.pipe(doc("Key of secretRef holding the secret access key."))),
    bucket: optional(Schema.String.pipe(Schema.minLength(1), doc("Bucket used for every purpose not set in buckets."))),
    bucketKey: optional(DataKey.pipe(doc("Key of secretRef (or configMapRef) holding the bucket name."))),
    buckets: optional(S3Buckets),
    region: optional(Schema.String.pipe(Schema.minLength(1), doc("AWS region, e.g. us-east-1."))),
    regionKey: optional(DataKey.pipe(doc("Key of secretRef (or configMapRef) holding the region."))),
    emitS3EndpointUrl: optional(
      Schema.Boolean.pipe(doc("Also set S3_ENDPOINT_URL (kept for compatibility; an endpoint is always passed)."))
    ),
    forcePathStyle: optional(
      Schema.Boolean.pipe(doc("Path-style bucket addressing (AWS_S3_FORCE_PATH_STYLE), needed by MinIO and Ceph RGW."))
    ),
    caSecretRef: optional(
      ObjectName.pipe(
        doc(
          "Secret in this namespace holding the PEM CA bundle that signed the S3 endpoint's certificate (a MinIO " +
            "with its own CA). Mounted read-only in the backend, which then trusts it besides the system roots " +
            "(SSL_CERT_FILE, SSL_CERT_DIR, NODE_EXTRA_CA_CERTS)."
        )
      )
    ),
    caConfigMapRef: optional(
      ObjectName.pipe(doc("ConfigMap in this namespace holding the S3 CA bundle (instead of caSecretRef)."))
    ),
    caKey: optional(
      DataKey.pipe(doc("Key of caSecretRef or caConfigMapRef holding the PEM bundle. Defaults to ca.crt."))
    )
  }).pipe(doc("S3-compatible object storage for files, exports, snapshot imports, modules and search indexes.")),
  {
    check: (s3) => !s3.enabled || s3.secretRef !== undefined,
    rule: "!self.enabled || has(self.secretRef)",
    message: "secretRef is required when s3.enabled is true: name the Secret with the S3 credentials",
    fieldPath: ".secretRef",
    reason: "FieldValueRequired"
  },
  exclusive("bucket", "bucketKey"),
  exclusive("region", "regionKey"),
  exclusive("endpoint", "endpointKey"),
  ...caBundleChecks
)
export type BackendS3Spec = typeof BackendS3Spec.Type

// ---------------------------------------------------------------------------------------------------------------
// backend.metrics, backend.podDisruptionBudget, backend.networkPolicy

/** A label map (keys qualified names, values label values). */
const LabelMap = qualifiedKeyMap(
  Schema.String.pipe(
    Schema.maxLength(63),
    Schema.pattern(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/, { description: "a label value" })
  ),
  "label"
)

export const BackendMetricsSpec = Schema.Struct({
  enabled: withDefault(
    Schema.Boolean.pipe(
      doc(
        "Serve Prometheus metrics at /metrics on port 3210 (false sets DISABLE_METRICS_ENDPOINT=true). The public " +
          "routes never forward /metrics; a PodMonitor is created when the Prometheus Operator's CRDs exist."
      )
    ),
    false
  ),
  podMonitorLabels: optional(
    LabelMap.pipe(doc("Extra labels of the PodMonitor, e.g. the release label a Prometheus selects monitors by."))
  )
}).pipe(doc("Prometheus metrics of the backend."))
export type BackendMetricsSpec = typeof BackendMetricsSpec.Type

export const BackendDisruptionBudgetSpec = Schema.Struct({
  enabled: withDefault(
    Schema.Boolean.pipe(
      doc(
        "Create a PodDisruptionBudget with maxUnavailable 0 for the backend pod: evictions (kubectl drain, node " +
          "autoscaling) are refused, so a drain waits until the budget is disabled or the pod is deleted by hand."
      )
    ),
    false
  )
}).pipe(doc("Guard the single backend pod against voluntary evictions."))
export type BackendDisruptionBudgetSpec = typeof BackendDisruptionBudgetSpec.Type

export const BackendNetworkPolicySpec = Schema.Struct({
  enabled: withDefault(
    Schema.Boolean.pipe(
      doc(
        "Create a NetworkPolicy that admits traffic to the backend's ports only from this instance's own pods " +
          "(dashboard, backup, restore and upgrade Jobs), the namespaces of the Gateways its routes attach to, " +
          "and allowFromNamespaces."
      )
    ),
    false
  ),
  allowFromNamespaces: optional(
    Schema.Array(NamespaceName).pipe(
      Schema.maxItems(32),
      crdExtra({ "x-kubernetes-list-type": "atomic" }),
      doc(
        "Further namespaces whose pods may reach the backend: the ingress controller's (mode ingress), a Gateway " +
          "implementation that runs its proxies elsewhere (Envoy Gateway: envoy-gateway-system), Prometheus."
      )
    )
  )
}).pipe(doc("Restrict which pods may connect to the backend (enforced only by a CNI that supports NetworkPolicy)."))
export type BackendNetworkPolicySpec = typeof BackendNetworkPolicySpec.Type

// ---------------------------------------------------------------------------------------------------------------
// backend

export const BackendSpec = crossField(
  Schema.Struct({
    image: optional(ImageRef.pipe(doc("Backend image. Defaults to ghcr.io/get-convex/convex-backend:<spec.version>."))),
    resources: optional(Resources),
    db: withDefault(BackendDatabaseSpec, {}),
    instanceSecretRef: optional(InstanceSecretRef),
    storage: withDefault(BackendStorageSpec.pipe(doc("Where the backend keeps /convex/data.")), {}),
    s3: withDefault(BackendS3Spec, {}),
    telemetry: withDefault(
      Schema.Struct({
        disableBeacon: withDefault(
          Schema.Boolean.pipe(doc("Opt out of the self-hosted usage beacon (DISABLE_BEACON).")),
          false
        )
      }).pipe(doc("Usage reporting of the backend.")),
      {}
    ),
    logging: withDefault(
      Schema.Struct({
        redactLogsToClient: optional(
          Schema.Boolean.pipe(
            doc(
              "Hide server log lines from clients (REDACT_LOGS_TO_CLIENT). Defaults to true when environment is " +
                "prod and false when it is dev."
            )
          )
        )
      }).pipe(doc("Logging of the backend.")),
      {}
    ),
    metrics: withDefault(BackendMetricsSpec, {}),
    podDisruptionBudget: withDefault(BackendDisruptionBudgetSpec, {}),
    networkPolicy: withDefault(BackendNetworkPolicySpec, {}),
    security: optional(SecuritySpec.pipe(doc("Security contexts of the backend pod and container."))),
    env: optional(
      Schema.Array(BackendEnvVar).pipe(
        Schema.maxItems(256),
        crdExtra({ "x-kubernetes-list-type": "atomic" }),
        doc(
          "Extra environment variables of the backend container; later entries win over earlier ones. INSTANCE_NAME and INSTANCE_SECRET are refused (the operator sets them)."
        )
      )
    )
  }).pipe(doc("The Convex backend: one StatefulSet with exactly one replica.")),
  {
    check: (backend) => backend.db.engine !== "sqlite" || backend.storage.mode === "sqlite",
    rule: "self.db.engine != 'sqlite' || self.storage.mode == 'sqlite'",
    message: "storage.mode external needs db.engine postgres or mysql: a SQLite database lives in the data volume",
    fieldPath: ".storage.mode",
    reason: "FieldValueInvalid"
  }
)
export type BackendSpec = typeof BackendSpec.Type

// ---------------------------------------------------------------------------------------------------------------
// dashboard

export const DashboardSpec = Schema.Struct({
  enabled: withDefault(Schema.Boolean.pipe(doc("Run the Convex dashboard.")), true),
  image: optional(
    ImageRef.pipe(doc("Dashboard image. Defaults to ghcr.io/get-convex/convex-dashboard:<spec.version>."))
  ),
  replicas: withDefault(Int32.pipe(Schema.greaterThanOrEqualTo(1), doc("Dashboard replicas.")), 1),
  resources: optional(Resources),
  security: optional(SecuritySpec.pipe(doc("Security contexts of the dashboard pod and container."))),
  prefillAdminKey: withDefault(
    Schema.Boolean.pipe(
      doc(
        "Give the dashboard NEXT_PUBLIC_ADMIN_KEY, which pre-fills the admin key for every visitor. " +
          "Only behind authentication."
      )
    ),
    false
  )
}).pipe(doc("The Convex dashboard: a Deployment on its own host."))
export type DashboardSpec = typeof DashboardSpec.Type

// ---------------------------------------------------------------------------------------------------------------
// networking

export const ParentReference = Schema.Struct({
  name: ObjectName.pipe(doc("Name of the parent Gateway.")),
  namespace: optional(NamespaceName.pipe(doc("Namespace of the Gateway; this instance's namespace when empty."))),
  sectionName: optional(
    Schema.String.pipe(
      Schema.minLength(1),
      Schema.maxLength(253),
      Schema.pattern(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/),
      doc("Listener of the Gateway to attach to.")
    )
  )
})
export type ParentReference = typeof ParentReference.Type

export const RoutingMode = Schema.Literal("gateway", "ingress")
export type RoutingMode = typeof RoutingMode.Type

const distinctHosts = <K extends string>(a: K, b: K) => ({
  check: (self: Partial<Record<K, string>>) => self[a] === undefined || self[b] === undefined || self[a] !== self[b],
  rule: `!has(self.${a}) || !has(self.${b}) || self.${a} != self.${b}`,
  message: `${a} and ${b} must be different hosts: each is routed to its own port at /`,
  fieldPath: `.${b}`,
  reason: "FieldValueInvalid" as const
})

export const NetworkingSpec = crossField(
  Schema.Struct({
    host: Hostname.pipe(doc("Public host of the Convex API (port 3210), e.g. convex.example.com.")),
    siteHost: optional(
      Hostname.pipe(
        doc("Public host of HTTP actions (see siteRoute). Without it they are served at https://<host>/http.")
      )
    ),
    siteRoute: withDefault(
      SiteRoute.pipe(
        doc(
          "How the site host reaches HTTP actions: rewrite (port 3210, the proxy adds the /http prefix) or " +
            "proxy (port 3211, Convex's dev site proxy: at most 4 requests at a time)."
        )
      ),
      "rewrite"
    ),
    limits: withDefault(ProxyLimitsSpec, {}),
    dashboardHost: optional(
      Hostname.pipe(doc("Public host of the dashboard. The dashboard only works at the root of its own host."))
    ),
    deploymentUrl: optional(
      HttpUrl.pipe(doc("NEXT_PUBLIC_DEPLOYMENT_URL of the dashboard: the API URL as a browser sees it."))
    ),
    cloudOrigin: optional(HttpUrl.pipe(doc("CONVEX_CLOUD_ORIGIN; defaults to the URL of host."))),
    siteOrigin: optional(HttpUrl.pipe(doc("CONVEX_SITE_ORIGIN; defaults to the URL of siteHost, or <host URL>/http."))),
    mode: withDefault(
      RoutingMode.pipe(doc("Expose through Gateway API HTTPRoutes (gateway) or a networking.k8s.io Ingress.")),
      "gateway"
    ),
    parentRefs: optional(
      Schema.Array(ParentReference).pipe(
        Schema.maxItems(32),
        crdExtra({ "x-kubernetes-list-type": "atomic" }),
        doc("Existing Gateways to attach routes to; when set, the operator creates no Gateway of its own.")
      )
    ),
    gatewayClassName: withDefault(ObjectName.pipe(doc("GatewayClass of the Gateway the operator creates.")), "nginx"),
    gatewayAnnotations: optional(
      AnnotationMap.pipe(doc("Annotations of the Gateway the operator creates (e.g. cert-manager issuers)."))
    ),
    ingressClassName: optional(ObjectName.pipe(doc("IngressClass of the Ingress (mode ingress)."))),
    ingressAnnotations: optional(AnnotationMap.pipe(doc("Annotations of the Ingress (mode ingress)."))),
    tlsSecretRef: optional(
      ObjectName.pipe(doc("TLS Secret for the hosts; URLs are https when set (or when an origin says so)."))
    )
  }).pipe(doc("Public hostnames and how traffic reaches the backend and dashboard.")),
  distinctHosts("host", "siteHost"),
  distinctHosts("host", "dashboardHost"),
  distinctHosts("siteHost", "dashboardHost"),
  {
    check: (networking) => networking.mode !== "ingress" || networking.parentRefs === undefined,
    rule: "self.mode != 'ingress' || !has(self.parentRefs)",
    message: "parentRefs attach Gateway API routes; they cannot be used with mode ingress",
    fieldPath: ".parentRefs",
    reason: "FieldValueForbidden"
  }
)
export type NetworkingSpec = typeof NetworkingSpec.Type

// ---------------------------------------------------------------------------------------------------------------
// scale and maintenance

export const ScaleSpec = Schema.Struct({
  backend: optional(
    Schema.Struct({
      cpuTargetUtilization: optional(
        Int32.pipe(
          Schema.between(1, 100),
          doc("Target CPU utilisation in percent (a hint; the backend never scales out).")
        )
      ),
      maxMemory: optional(Quantity.pipe(doc("Upper bound of backend memory, e.g. 8Gi (sets the memory limit).")))
    }).pipe(doc("Sizing of the backend container."))
  )
}).pipe(doc("Sizing hints for the backend."))
export type ScaleSpec = typeof ScaleSpec.Type

export const UpgradeStrategy = Schema.Literal("inPlace", "exportImport")
export type UpgradeStrategy = typeof UpgradeStrategy.Type

export const PreUpgradeBackupSpec = Schema.Struct({
  enabled: withDefault(
    Schema.Boolean.pipe(
      doc(
        "Export a snapshot of the running version before an upgrade rolls (default true). " +
          "false lets inPlace upgrades roll without one; exportImport always needs it (its import reads it)."
      )
    ),
    true
  ),
  target: optional(
    BackupTarget.pipe(
      doc(
        "Where the pre-upgrade ConvexBackup keeps its ZIP; defaults to the claim <instance>-backups (as a " +
          "ConvexBackup with target pvc: {})."
      )
    )
  )
}).pipe(
  doc(
    "The export an upgrade takes before it rolls: a ConvexBackup labelled convex.icod.de/upgrade-hash, never " +
      "deleted by the operator."
  )
)
export type PreUpgradeBackupSpec = typeof PreUpgradeBackupSpec.Type

export const MaintenanceSpec = crossField(
  Schema.Struct({
    upgradeStrategy: withDefault(
      UpgradeStrategy.pipe(
        doc(
          "inPlace: export (see preUpgradeBackup), then roll to the new version (the backend migrates at start). " +
            "exportImport: stop traffic, export, roll, import with --replace-all, resume; SQLite only (postgres and " +
            "mysql cannot get a fresh database without a new admin key)."
        )
      ),
      "inPlace"
    ),
    preUpgradeBackup: withDefault(PreUpgradeBackupSpec, {}),
    restartInterval: withDefault(
      GoDuration.pipe(doc("Restart the backend this long after its last start to contain memory growth; 0s disables.")),
      "168h"
    )
  }).pipe(doc("Upgrades and periodic restarts.")),
  {
    check: (maintenance) => maintenance.upgradeStrategy !== "exportImport" || maintenance.preUpgradeBackup.enabled,
    rule: "self.upgradeStrategy != 'exportImport' || !has(self.preUpgradeBackup) || self.preUpgradeBackup.enabled",
    message:
      "preUpgradeBackup.enabled: false cannot be used with upgradeStrategy exportImport (its import needs the export): remove it or use upgradeStrategy inPlace",
    fieldPath: ".preUpgradeBackup.enabled",
    reason: "FieldValueForbidden"
  }
)
export type MaintenanceSpec = typeof MaintenanceSpec.Type

// ---------------------------------------------------------------------------------------------------------------
// spec

export const Environment = Schema.Literal("dev", "prod")
export type Environment = typeof Environment.Type

/**
 * exportImport starts the new version on fresh storage; a postgres or mysql database cannot be fresh without a new
 * admin key. Convex names the database after INSTANCE_NAME with no override (get-convex/convex-backend
 * `crates/clusters/src/lib.rs`: `deployment_name.replace('-', "_")`, and a URL with a path is refused) and derives
 * admin keys from INSTANCE_NAME and the instance secret (`crates/local_backend/src/config.rs`, `key_broker`).
 */
const exportImportOnSqlite = {
  check: (
    spec: { readonly backend: { readonly db: { readonly engine: string } } } & {
      readonly maintenance: { readonly upgradeStrategy: string }
    }
  ) => spec.maintenance.upgradeStrategy !== "exportImport" || spec.backend.db.engine === "sqlite",
  rule:
    "!has(self.maintenance) || !has(self.maintenance.upgradeStrategy) || self.maintenance.upgradeStrategy != 'exportImport' || " +
    "!has(self.backend) || !has(self.backend.db) || !has(self.backend.db.engine) || self.backend.db.engine == 'sqlite'",
  message:
    "upgradeStrategy exportImport runs the new version on fresh storage, which postgres and mysql cannot give: Convex " +
    "names the database after INSTANCE_NAME (no override) and derives the admin key from it, so a fresh database " +
    "would need a new admin key; use upgradeStrategy inPlace (its pre-upgrade backup is the way back)",
  fieldPath: ".maintenance.upgradeStrategy",
  reason: "FieldValueForbidden"
} as const

export const ConvexInstanceSpec = crossField(
  Schema.Struct({
    environment: Environment.pipe(doc("Deployment tier: dev or prod.")),
    version: ImageTag.pipe(
      doc("Convex release: the image tag of backend and dashboard (Convex tags releases with git SHAs).")
    ),
    backend: withDefault(BackendSpec, {}),
    dashboard: withDefault(DashboardSpec, {}),
    networking: optional(NetworkingSpec),
    scale: optional(ScaleSpec),
    maintenance: withDefault(MaintenanceSpec, {}),
    restore: optional(RestoreSpec)
  }).pipe(
    crdExtra({ "x-kubernetes-validations": [restoreOnlyAtCreation] }),
    doc("Desired state of a self-hosted Convex deployment.")
  ),
  exportImportOnSqlite
)
export type ConvexInstanceSpec = typeof ConvexInstanceSpec.Type
export type ConvexInstanceSpecEncoded = typeof ConvexInstanceSpec.Encoded
