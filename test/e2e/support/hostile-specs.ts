/**
 * Hostile ConvexInstance specs that the apiserver admits (no schema rule refuses them), for the hostile-input fault
 * test (fault-hostile.test.ts) and the README's count of them.
 */
import { valid } from "../../integration/admission-corpus.js"

type Json = Record<string, unknown>

const net = (extra: object) => ({ ...valid, networking: { host: "api.example.com", ...extra } })
const env = (entries: ReadonlyArray<Json>) => ({ ...valid, backend: { env: entries } })

/**
 * Hostile specs the apiserver admits (no schema rule refuses them), with the outcome each must reach: Ready (the
 * value is harmless, or the override is documented), or a False condition naming `reported` (the field of the
 * instance, or the field of the child the apiserver refused).
 */
export const admittedHostile: ReadonlyArray<{
  readonly what: string
  readonly spec: unknown
  readonly outcome: "Ready" | { readonly reported: string }
}> = [
  {
    what: "a PVC size of 1e1000",
    spec: { ...valid, backend: { storage: { pvc: { enabled: true, size: "1e1000" } } } },
    outcome: { reported: "PVCReady" }
  },
  {
    what: "a negative memory limit",
    spec: { ...valid, backend: { resources: { limits: { memory: "-1Gi" } } } },
    outcome: { reported: "resources.limits[memory]" }
  },
  {
    what: "a CPU limit of 1e308",
    spec: { ...valid, backend: { resources: { limits: { cpu: "1e308" } } } },
    outcome: "Ready"
  },
  { what: "an env var name with '='", spec: env([{ name: "A=B", value: "x" }]), outcome: { reported: ".name" } },
  // spec.backend.env wins over the operator's variables ("later entries win"), except INSTANCE_NAME and
  // INSTANCE_SECRET, which admission refuses (the admission corpus).
  {
    what: "an env var named CONVEX_CLOUD_ORIGIN",
    spec: env([{ name: "CONVEX_CLOUD_ORIGIN", value: "https://x.io" }]),
    outcome: "Ready"
  },
  {
    what: "an env var from a Secret named like one in another namespace",
    spec: env([{ name: "X", valueFrom: { secretKeyRef: { name: "stolen", key: "url" } } }]),
    outcome: { reported: "spec.backend.env[0].valueFrom" }
  },
  { what: "a 300 KiB env value", spec: env([{ name: "BIG", value: "x".repeat(300_000) }]), outcome: "Ready" },
  {
    what: "a restart interval of 10^12 hours",
    spec: { ...valid, maintenance: { restartInterval: "999999999999h" } },
    outcome: "Ready"
  },
  {
    what: "a negative runAsUser",
    spec: { ...valid, backend: { security: { pod: { runAsUser: -1 } } } },
    outcome: { reported: "securityContext.runAsUser" }
  },
  {
    what: "a 1 MiB Gateway annotation",
    spec: net({ gatewayAnnotations: { "example.com/x": "x".repeat(1_000_000) } }),
    outcome: { reported: "metadata.annotations" }
  },
  {
    what: "a parentRef to a Gateway in kube-system",
    spec: net({ parentRefs: [{ name: "gw", namespace: "kube-system" }] }),
    outcome: "Ready"
  },
  {
    what: "a database Secret named like one in another namespace",
    spec: {
      ...valid,
      backend: { db: { engine: "postgres", secretRef: "stolen", urlKey: "url" }, storage: { mode: "external" } }
    },
    outcome: { reported: "spec.backend.db.secretRef" }
  }
]
