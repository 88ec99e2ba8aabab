import { backendDataPath, decide, type EnvVar } from "@convex-operator/core"
import { backendEnvironment, indexObserved, instanceUrls, mergeEnv } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { entropy, find, minimal, now, secret } from "../decide/support.js"

const render = (spec: Record<string, unknown> = {}, objects = [secret("pg", { url: "postgres://u:p@pg:5432" })]) =>
  decide(minimal(spec), { objects, entropy }, now)
const statefulSet = (spec: Record<string, unknown> = {}) => find(render(spec), "StatefulSet", "demo-backend")
const container = (spec: Record<string, unknown> = {}) => {
  const found = statefulSet(spec).spec.template.spec.containers[0]
  if (found === undefined) throw new Error("no container")
  return found
}
const config = (spec: Record<string, unknown> = {}) => find(render(spec), "ConfigMap", "demo-backend-config").data

describe("backend StatefulSet", () => {
  it("has exactly one replica and the image of spec.version", () => {
    expect(statefulSet().spec.replicas).toBe(1)
    expect(container().image).toBe("ghcr.io/get-convex/convex-backend:0123456789abcdef0123456789abcdef01234567")
    expect(container({ backend: { image: "registry.example/convex:x" } }).image).toBe("registry.example/convex:x")
  })

  it("keeps /convex/data on the claim by default, on an emptyDir only when the spec says so", () => {
    expect(container().volumeMounts).toEqual([{ name: "data", mountPath: backendDataPath }])
    expect(statefulSet().spec.template.spec.volumes).toEqual([
      { name: "data", persistentVolumeClaim: { claimName: "demo-backend-pvc" } }
    ])
    expect(statefulSet({ backend: { storage: { pvc: { enabled: false } } } }).spec.template.spec.volumes).toEqual([
      { name: "data", emptyDir: {} }
    ])
  })

  it("probes GET /version on 3210, with minutes of startup budget", () => {
    const { startupProbe, readinessProbe, livenessProbe, ports } = container()
    for (const probe of [startupProbe, readinessProbe, livenessProbe]) {
      expect(probe?.httpGet).toEqual({ path: "/version", port: "http", scheme: "HTTP" })
    }
    expect(ports).toContainEqual({ name: "http", containerPort: 3210, protocol: "TCP" })
    const budget = (startupProbe?.periodSeconds ?? 0) * (startupProbe?.failureThreshold ?? 0)
    expect(budget).toBeGreaterThanOrEqual(300)
  })

  it("stops the backend with SIGINT to PID 1 and waits for it", () => {
    expect(container().lifecycle?.preStop.exec.command.join(" ")).toContain("kill -INT 1")
    expect(statefulSet().spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60)
  })

  it("reads the ConfigMap with envFrom and secrets with secretKeyRef", () => {
    const pg = container({
      backend: { db: { engine: "postgres", secretRef: "pg", urlKey: "url" }, storage: { mode: "external" } }
    })
    expect(pg.envFrom).toEqual([{ configMapRef: { name: "demo-backend-config" } }])
    expect(pg.env).toEqual([
      { name: "INSTANCE_SECRET", valueFrom: { secretKeyRef: { name: "demo-convex-secrets", key: "instance-secret" } } },
      { name: "POSTGRES_URL", valueFrom: { secretKeyRef: { name: "pg", key: "url" } } }
    ])
  })

  it("takes security contexts from the spec only (the image runs as root)", () => {
    const plain = statefulSet()
    expect(plain.spec.template.spec.securityContext).toBeUndefined()
    expect(plain.spec.template.spec.containers[0]?.securityContext).toBeUndefined()
    const secured = statefulSet({
      backend: { security: { pod: { fsGroup: 1000 }, container: { readOnlyRootFilesystem: false } } }
    })
    expect(secured.spec.template.spec.securityContext).toEqual({ fsGroup: 1000 })
    expect(secured.spec.template.spec.containers[0]?.securityContext).toEqual({ readOnlyRootFilesystem: false })
  })

  it("caps memory at scale.backend.maxMemory", () => {
    expect(
      container({ backend: { resources: { limits: { cpu: "1" } } }, scale: { backend: { maxMemory: "8Gi" } } })
        .resources
    ).toEqual({
      limits: { cpu: "1", memory: "8Gi" }
    })
  })

  it("user env comes last and replaces operator variables of the same name in place", () => {
    const env: ReadonlyArray<EnvVar> = [
      { name: "RUST_LOG", value: "debug" },
      { name: "INSTANCE_SECRET", valueFrom: { secretKeyRef: { name: "mine", key: "s" } } }
    ]
    expect(
      mergeEnv(
        [
          { name: "INSTANCE_SECRET", value: "x" },
          { name: "A", value: "1" }
        ],
        env
      )
    ).toEqual([
      { name: "INSTANCE_SECRET", valueFrom: { secretKeyRef: { name: "mine", key: "s" } } },
      { name: "A", value: "1" },
      { name: "RUST_LOG", value: "debug" }
    ])
  })
})

describe("backend ConfigMap", () => {
  it("holds INSTANCE_NAME and the origins; internal URLs without networking", () => {
    expect(config()).toEqual({
      CONVEX_CLOUD_ORIGIN: "http://demo-backend.convex.svc:3210",
      CONVEX_SITE_ORIGIN: "http://demo-backend.convex.svc:3211",
      DISABLE_METRICS_ENDPOINT: "true",
      DOCUMENT_RETENTION_DELAY: "172800",
      INSTANCE_NAME: "demo",
      MAX_EXPIRED_SNAPSHOT_AGE_DAYS: "0"
    })
  })

  it("purges expired snapshot exports at once unless backend.env says otherwise", () => {
    // Backup Jobs expire their export once the ZIP is stored; 0 lets the backend's cleanup delete that copy.
    expect(config().MAX_EXPIRED_SNAPSHOT_AGE_DAYS).toBe("0")
    const env = container({ backend: { env: [{ name: "MAX_EXPIRED_SNAPSHOT_AGE_DAYS", value: "7" }] } }).env
    // Container env wins over the ConfigMap's envFrom.
    expect(env).toContainEqual({ name: "MAX_EXPIRED_SNAPSHOT_AGE_DAYS", value: "7" })
  })

  it("derives INSTANCE_NAME from databaseName", () => {
    expect(config({ backend: { db: { databaseName: "convex_prod" } } }).INSTANCE_NAME).toBe("convex-prod")
  })

  it("uses https origins with TLS, the site host when set, <api>/http otherwise", () => {
    expect(config({ networking: { host: "api.x.io", tlsSecretRef: "tls" } })).toMatchObject({
      CONVEX_CLOUD_ORIGIN: "https://api.x.io",
      CONVEX_SITE_ORIGIN: "https://api.x.io/http"
    })
    expect(config({ networking: { host: "api.x.io", siteHost: "site.x.io" } })).toMatchObject({
      CONVEX_CLOUD_ORIGIN: "http://api.x.io",
      CONVEX_SITE_ORIGIN: "http://site.x.io"
    })
    expect(
      config({ networking: { host: "api.x.io", cloudOrigin: "https://c.x.io", siteOrigin: "https://s.x.io" } })
    ).toMatchObject({
      CONVEX_CLOUD_ORIGIN: "https://c.x.io",
      CONVEX_SITE_ORIGIN: "https://s.x.io"
    })
  })

  it("sets switches Convex turns on by presence only when they are on", () => {
    const off = config({
      backend: { db: { engine: "postgres", secretRef: "pg", urlKey: "url" }, storage: { mode: "external" } }
    })
    expect(Object.keys(off)).not.toContain("DO_NOT_REQUIRE_SSL")
    expect(Object.keys(off)).not.toContain("DISABLE_BEACON")
    expect(Object.keys(off)).not.toContain("REDACT_LOGS_TO_CLIENT")
    const on = config({
      backend: {
        db: { engine: "postgres", secretRef: "pg", urlKey: "url", requireSSL: false },
        storage: { mode: "external" },
        telemetry: { disableBeacon: true },
        logging: { redactLogsToClient: true }
      }
    })
    expect(on).toMatchObject({ DO_NOT_REQUIRE_SSL: "true", DISABLE_BEACON: "true", REDACT_LOGS_TO_CLIENT: "true" })
  })

  it("never sets variables the backend does not read", () => {
    const keys = Object.keys(config({ networking: { host: "a.b" } }))
    for (const unread of [
      "CONVEX_ADMIN_KEY",
      "CONVEX_PORT",
      "CONVEX_ENV",
      "CONVEX_VERSION",
      "CONVEX_INSTANCE_SECRET"
    ]) {
      expect(keys).not.toContain(unread)
    }
  })

  it("the environment is the same whatever the order of observed objects", () => {
    const instance = minimal({ backend: { s3: { enabled: true, secretRef: "s3", bucket: "b", region: "r" } } })
    const objects = [secret("s3", { AWS_ACCESS_KEY_ID: "id" }), secret("other", {})]
    const urls = instanceUrls(instance, "convex")
    expect(backendEnvironment(instance, urls, indexObserved(objects))).toEqual(
      backendEnvironment(instance, urls, indexObserved([...objects].reverse()))
    )
  })
})

describe("instance URLs", () => {
  const urls = (networking: Record<string, unknown>) => instanceUrls(minimal({ networking }), "convex")

  it("are https when the operator terminates TLS", () => {
    const found = urls({ host: "api.example.com", dashboardHost: "dash.example.com", tlsSecretRef: "tls" })
    expect(found.cloudOrigin).toBe("https://api.example.com")
    expect(found.siteOrigin).toBe("https://api.example.com/http")
    expect(found.dashboardUrl).toBe("https://dash.example.com")
  })

  it("follow an https cloud origin when TLS ends elsewhere (a shared Gateway)", () => {
    const found = urls({
      host: "api.example.com",
      siteHost: "site.example.com",
      dashboardHost: "dash.example.com",
      cloudOrigin: "https://api.example.com"
    })
    expect(found.siteOrigin).toBe("https://site.example.com")
    expect(found.dashboardUrl).toBe("https://dash.example.com")
  })

  it("are http without TLS", () => {
    expect(urls({ host: "api.example.com", dashboardHost: "dash.example.com" }).dashboardUrl).toBe(
      "http://dash.example.com"
    )
  })
})
