/**
 * The ConvexInstance CRD on a real apiserver: samples are admitted, invalid instances are rejected naming the
 * field, the apiserver applies exactly the defaults the Schema applies, and status and printer columns work.
 * Every rejected instance must also fail to decode with the same field path: CEL and Schema agree.
 */
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { convexInstanceCrdPath, decodeConvexInstance, encodeConvexInstance } from "@convex-operator/core"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { convexInstances, repoRoot } from "../support/manifests.js"
import { type KubeObject, useLocalCluster } from "./support.js"

const crd = fileURLToPath(new URL(convexInstanceCrdPath, `file://${repoRoot}/`))
const ref = { apiVersion: "convex.icod.de/v1alpha1", kind: "ConvexInstance", namespace: "default" }

const instance = (name: string, spec: unknown): KubeObject => ({
  apiVersion: ref.apiVersion,
  kind: ref.kind,
  metadata: { name, namespace: "default" },
  spec
})

const valid = { environment: "dev", version: "0123456789abcdef0123456789abcdef01234567" }
const db = (extra: object) => ({ ...valid, backend: { db: extra } })
const s3 = (extra: object) => ({
  ...valid,
  backend: { db: { engine: "postgres", secretRef: "pg", urlKey: "url" }, s3: extra }
})
const net = (extra: object) => ({ ...valid, networking: { host: "api.example.com", ...extra } })
const securityPod = (pod: object) => ({ ...valid, backend: { security: { pod } } })

/** [what, spec, the field the apiserver must name]. */
const invalidSpecs: ReadonlyArray<readonly [string, unknown, string]> = [
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
    "an unknown PVC deletion policy",
    { ...valid, backend: { storage: { pvc: { deletionPolicy: "Keep" } } } },
    "spec.backend.storage.pvc.deletionPolicy"
  ],
  [
    "a memory limit that is no quantity",
    { ...valid, backend: { resources: { limits: { memory: "1 gig" } } } },
    "spec.backend.resources.limits.memory"
  ],
  ["S3 without a Secret", s3({ enabled: true }), "spec.backend.s3.secretRef"],
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
  ]
]

const decodeIssuePaths = (object: KubeObject): ReadonlyArray<string> =>
  Either.match(decodeConvexInstance(object), { onLeft: (e) => e.issues.map((i) => i.path), onRight: () => [] })

describe("ConvexInstance admission on a real apiserver", () => {
  const cluster = useLocalCluster({ components: "apiserver", crds: [crd] })

  it("admits every sample in examples/ and every reference-operator manifest unchanged", async () => {
    // Samples and reference manifests share names; each folder gets a namespace of its own.
    const folders = [
      ["examples", "default"],
      ["test/fixtures/reference", "reference"]
    ] as const
    expect((await cluster.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "reference" } })).ok).toBe(
      true
    )
    let admitted = 0
    for (const [folder, namespace] of folders) {
      for (const manifest of convexInstances(folder)) {
        const object = manifest.object as unknown as KubeObject
        const outcome = await cluster.create({ ...object, metadata: { ...object.metadata, namespace } })
        expect(outcome.ok ? "admitted" : outcome.error.statusMessage, manifest.source).toBe("admitted")
        admitted++
      }
    }
    expect(admitted).toBeGreaterThanOrEqual(8)
  })

  it("applies exactly the defaults the Schema applies", async () => {
    for (const manifest of convexInstances("examples")) {
      const { name } = manifest.object.metadata as { name: string }
      const stored = await cluster.get(ref, name)
      const decoded = Either.getOrThrow(decodeConvexInstance(manifest.object))
      expect(stored.spec, manifest.source).toEqual(encodeConvexInstance(decoded).spec)
    }
  })

  it(`rejects ${invalidSpecs.length} invalid instances, naming the field, and decoding rejects them too`, async () => {
    expect(invalidSpecs.length).toBeGreaterThanOrEqual(25)
    for (const [index, [what, spec, field]] of invalidSpecs.entries()) {
      const object = instance(`invalid-${index}`, spec)
      const outcome = await cluster.create(object)
      expect(outcome.ok, what).toBe(false)
      if (outcome.ok) continue
      expect(outcome.error.code, what).toBe(422)
      expect(
        outcome.error.causes.map((cause) => cause.field),
        `${what}: ${outcome.error.statusMessage}`
      ).toContain(field)
      expect(decodeIssuePaths(object), what).toContain(field)
    }
  })

  it("rejects instance names that cannot prefix the StatefulSet and Services", async () => {
    for (const name of ["1-convex", "a".repeat(45)]) {
      const outcome = await cluster.create(instance(name, valid))
      expect(outcome.ok, name).toBe(false)
      if (!outcome.ok) expect(outcome.error.statusMessage).toContain("metadata.name must start with a letter")
      expect(decodeIssuePaths(instance(name, valid))).toEqual(["metadata.name"])
    }
  })

  it("keeps status in its subresource and shows the printer columns", async () => {
    const created = await cluster.create({ ...instance("columns", valid), status: { phase: "Ready" } })
    expect(created.ok).toBe(true)
    expect((await cluster.get(ref, "columns")).status).toBeUndefined()

    const info = cluster.info()
    const statusPath = `/apis/convex.icod.de/v1alpha1/namespaces/default/convexinstances/columns/status`
    const status = {
      phase: "Ready",
      observedGeneration: 1,
      endpoints: { apiUrl: "https://api.example.com" },
      conditions: [
        {
          type: "Ready",
          status: "True",
          observedGeneration: 1,
          lastTransitionTime: "2026-01-01T00:00:00Z",
          reason: "BackendReady",
          message: "the backend answers /version"
        }
      ]
    }
    await cluster.run(info.objects.call("PATCH", statusPath, { status }, "application/merge-patch+json"))
    const stored = await cluster.get(ref, "columns")
    expect(stored.status).toEqual(status)
    expect(Either.isRight(decodeConvexInstance(stored))).toBe(true)

    const table = execFileSync(
      info.kubectl,
      ["--kubeconfig", info.kubeconfigPath, "get", "cvx", "columns", "-o", "wide"],
      {
        encoding: "utf8"
      }
    )
    const [header, row] = table.trim().split("\n")
    expect(header?.split(/\s{2,}/)).toEqual(["NAME", "READY", "PHASE", "VERSION", "API URL", "ENVIRONMENT", "AGE"])
    expect(row).toMatch(
      /^columns\s+True\s+Ready\s+0123456789abcdef0123456789abcdef01234567\s+https:\/\/api\.example\.com\s+dev\s+\d+s$/
    )
  })
})
