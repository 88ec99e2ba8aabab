/**
 * Names of the objects an instance owns. They stay compatible with the reference operator where it named them
 * (`<name>-backend`, `<name>-dashboard`, `<name>-convex-secrets`, `<name>-backend-config`, `<name>-backend-pvc`,
 * `<name>-gateway`), so existing deployments are adopted rather than duplicated.
 *
 * @module
 */

/** The names of every child of the instance `name`. */
export const childNames = (name: string) =>
  ({
    /** The backend StatefulSet and its client Service. */
    backend: `${name}-backend`,
    /** The governing headless Service of the StatefulSet. */
    backendHeadless: `${name}-backend-headless`,
    /** The ConfigMap of non-secret backend environment. */
    backendConfig: `${name}-backend-config`,
    /** The Secret holding the generated instance secret and admin key. */
    secrets: `${name}-convex-secrets`,
    /** The claim mounted at /convex/data. */
    backendPvc: `${name}-backend-pvc`,
    /** The dashboard Deployment and Service. */
    dashboard: `${name}-dashboard`,
    /** The Gateway the operator creates when no parentRefs are given. */
    gateway: `${name}-gateway`,
    /** The HTTPRoute of the API host (port 3210). */
    apiRoute: `${name}-api`,
    /** The HTTPRoute of the HTTP-actions host (port 3210 under /http, or 3211). */
    siteRoute: `${name}-site`,
    /** The HTTPRoute of the dashboard host (port 6791). */
    dashboardRoute: `${name}-dashboard`,
    /** The HTTPRoute that redirects plain HTTP to HTTPS on the operator's own Gateway. */
    redirectRoute: `${name}-https-redirect`,
    /** The Ingress (networking mode ingress). */
    ingress: `${name}-ingress`,
    /** The Ingress of the site host when ingress-nginx adds the /http prefix (its annotations apply per Ingress). */
    siteIngress: `${name}-site-ingress`,
    /** NGINX Gateway Fabric's ClientSettingsPolicy of the API route and of the site route. */
    apiClientSettings: `${name}-api-client-settings`,
    siteClientSettings: `${name}-site-client-settings`,
    /** NGINX Gateway Fabric's ProxySettingsPolicy of the API and site routes. */
    proxySettings: `${name}-proxy-settings`,
    /** The Service without endpoints that `/metrics` goes to on the Ingress (render/metrics.ts). */
    metricsBlocked: `${name}-metrics-blocked`,
    /** The ConvexBackup of attempt `attempt` of the export before the upgrade to the images with hash `hash`. */
    preUpgradeBackup: (hash: string, attempt: number) => `${name}-pre-upgrade-${hash.slice(0, 10)}-${attempt}`,
    /** The import Job of the upgrade to the images with hash `hash`. */
    importJob: (hash: string) => `${name}-import-${hash.slice(0, 10)}`,
    /** The Job that saves the environment variables before an exportImport upgrade rolls. */
    envSaveJob: (hash: string) => `${name}-envsave-${hash.slice(0, 10)}`,
    /** The Job that restores them after the import. */
    envRestoreJob: (hash: string) => `${name}-envrest-${hash.slice(0, 10)}`,
    /** The Secret the env-save Job writes (never deleted by the operator). */
    savedEnv: (hash: string) => `${name}-env-${hash.slice(0, 10)}`,
    /** The ServiceAccount, Role and RoleBinding of the env Jobs (get/create/patch of the saved-env Secret only). */
    envAccess: `${name}-snapshot-env`
  }) as const

/** The children names of one instance. */
export type ChildNames = ReturnType<typeof childNames>

/** Keys of the generated Secret. */
export const secretKeys = {
  /** `INSTANCE_SECRET`: 64 hex characters. */
  instanceSecret: "instance-secret",
  /** An admin key issued with the instance secret for `INSTANCE_NAME`. */
  adminKey: "admin-key"
} as const
