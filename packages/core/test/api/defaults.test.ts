import { decodeConvexInstanceSpec } from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"

const decode = (spec: unknown) => Either.getOrThrowWith(decodeConvexInstanceSpec(spec), (e) => new Error(e.message))

describe("defaults", () => {
  it("a minimal spec gets every default the CRD declares", () => {
    const spec = decode({ environment: "dev", version: "abc" })
    expect(spec.backend.db).toEqual({ engine: "sqlite", requireSSL: true })
    expect(spec.backend.storage).toEqual({
      mode: "sqlite",
      pvc: { enabled: true, deletionPolicy: "Retain" },
      acceptDataLoss: false
    })
    expect(spec.backend.s3).toEqual({ enabled: false, autoDetectOBC: true, endpointScheme: "http" })
    expect(spec.backend.telemetry).toEqual({ disableBeacon: false })
    // No default: environment decides (prod redacts), see render/production-defaults.test.ts.
    expect(spec.backend.logging).toEqual({})
    expect(spec.backend.metrics).toEqual({ enabled: false })
    expect(spec.backend.podDisruptionBudget).toEqual({ enabled: false })
    expect(spec.backend.networkPolicy).toEqual({ enabled: false })
    expect(spec.backend.image).toBeUndefined()
    expect(spec.dashboard).toEqual({ enabled: true, replicas: 1, prefillAdminKey: false })
    expect(spec.maintenance).toEqual({
      upgradeStrategy: "inPlace",
      preUpgradeBackup: { enabled: true },
      restartInterval: "168h"
    })
    expect(spec.networking).toBeUndefined()
  })

  it("networking defaults to Gateway API with the reference's class, and no annotations of its own", () => {
    const spec = decode({ environment: "prod", version: "abc", networking: { host: "a.example.com" } })
    expect(spec.networking).toEqual({
      host: "a.example.com",
      mode: "gateway",
      gatewayClassName: "nginx",
      siteRoute: "rewrite",
      limits: { maxRequestBodySize: "200m", readTimeoutSeconds: 3600, sendTimeoutSeconds: 3600 }
    })
  })

  it("given values win over defaults", () => {
    const spec = decode({
      environment: "prod",
      version: "abc",
      dashboard: { enabled: false, replicas: 3 },
      maintenance: { restartInterval: "0s" },
      backend: { storage: { pvc: { enabled: true, deletionPolicy: "Delete" } } }
    })
    expect(spec.dashboard.enabled).toBe(false)
    expect(spec.dashboard.replicas).toBe(3)
    expect(spec.maintenance).toEqual({
      upgradeStrategy: "inPlace",
      preUpgradeBackup: { enabled: true },
      restartInterval: "0s"
    })
    expect(spec.backend.storage.pvc).toEqual({ enabled: true, deletionPolicy: "Delete" })
  })
})
