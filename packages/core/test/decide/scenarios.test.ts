import {
  childNames,
  configHashAnnotation,
  decide,
  type KubeObject,
  secretKeys,
  verifyAdminKey
} from "@convex-operator/core"
import { findCondition } from "@convex-operator/core/internal"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Option } from "effect"
import {
  entropy,
  example,
  find,
  minimal,
  now,
  otherEntropy,
  sampleReferences,
  secret,
  settle,
  simulateCluster
} from "./support.js"

const postgres = (secretRef = "pg", urlKey = "url") => ({
  backend: { db: { engine: "postgres", secretRef, urlKey }, storage: { mode: "external" } },
  networking: { host: "api.example.com", tlsSecretRef: "api-tls" }
})

const condition = (decision: ReturnType<typeof decide>, type: Parameters<typeof findCondition>[1]) =>
  findCondition(decision.status.conditions, type)

describe("validation of references", () => {
  it("a missing database Secret fails SecretsReady naming the Secret, holds the backend, still renders the Gateway", () => {
    const decision = decide(minimal(postgres()), { objects: [], entropy }, now)
    expect(condition(decision, "SecretsReady")).toMatchObject({ status: "False", reason: "ValidationFailed" })
    expect(condition(decision, "SecretsReady")?.message).toContain('Secret "pg" does not exist')
    expect(condition(decision, "Ready")).toMatchObject({ status: "False", reason: "ValidationFailed" })
    expect(decision.status.phase).toBe("Error")
    expect(decision.desired.some((object) => object.kind === "StatefulSet")).toBe(false)
    expect(decision.desired.some((object) => object.kind === "Gateway")).toBe(true)
    expect(decision.desired.some((object) => object.kind === "HTTPRoute")).toBe(true)
    const warnings = decision.events.filter((event) => event.type === "Warning" && event.reason === "ValidationFailed")
    expect(warnings).toHaveLength(1)
  })

  it("a key missing from the Secret is named with the Secret", () => {
    const decision = decide(minimal(postgres()), { objects: [secret("pg", { other: "x" })], entropy }, now)
    expect(condition(decision, "SecretsReady")?.message).toContain(
      'spec.backend.db.urlKey: Secret "pg" has no key "url"'
    )
  })

  it("a URL Convex cannot use is explained without repeating the password", () => {
    const url = "postgres://convex:hunter2-password@pg:5432/mydb?sslmode=require&connect_timeout=5"
    const decision = decide(minimal(postgres()), { objects: [secret("pg", { url })], entropy }, now)
    const message = condition(decision, "SecretsReady")?.message ?? ""
    expect(message).toContain("remove the path")
    expect(message).toContain('the query parameter "connect_timeout"')
    expect(message).not.toContain("sslmode=require")
    expect(JSON.stringify([decision.status, decision.events])).not.toContain("hunter2")
  })

  it("an observed backend is kept, not deleted, while its references are invalid", () => {
    const settled = settle(minimal(postgres()), [secret("pg", { url: "postgres://u:p@pg:5432" })])
    expect(settled.decision.status.phase).not.toBe("Error")
    const broken = decide(
      settled.instance,
      { objects: settled.objects.filter((object) => object.metadata.name !== "pg"), entropy: otherEntropy },
      now
    )
    expect(broken.desired.some((object) => object.kind === "StatefulSet")).toBe(false)
    expect(broken.delete).toEqual([])
    expect(findCondition(broken.status.conditions, "StatefulSetReady")?.reason).toBe("ValidationFailed")
  })

  it("a TLS Secret that does not exist yet is not a validation problem (cert-manager creates it)", () => {
    const decision = decide(
      minimal(postgres()),
      { objects: [secret("pg", { url: "postgres://u:p@pg:5432" })], entropy },
      now
    )
    expect(condition(decision, "SecretsReady")?.reason).not.toBe("ValidationFailed")
  })

  it("an env valueFrom reference must resolve unless optional", () => {
    const spec = {
      backend: {
        env: [
          { name: "A", valueFrom: { secretKeyRef: { name: "extra", key: "a" } } },
          { name: "B", valueFrom: { configMapKeyRef: { name: "cfg", key: "b", optional: true } } }
        ]
      }
    }
    const decision = decide(minimal(spec), { objects: [], entropy }, now)
    expect(condition(decision, "SecretsReady")?.message).toBe(
      'spec.backend.env[0].valueFrom: Secret "extra" does not exist (for A)'
    )
  })
})

describe("the generated Secret", () => {
  const names = childNames("demo")
  const generated = (decision: ReturnType<typeof decide>) => {
    const data = find(decision, "Secret", names.secrets).data
    const decode = (key: string) => Buffer.from(data[key] ?? "", "base64").toString("utf8")
    return { secret: decode(secretKeys.instanceSecret), key: decode(secretKeys.adminKey) }
  }

  it("is generated from the injected entropy with a key valid for INSTANCE_NAME", () => {
    const decision = decide(minimal(), { objects: [], entropy }, now)
    const { secret: instanceSecret, key } = generated(decision)
    expect(instanceSecret).toBe(Buffer.from(entropy.instanceSecret).toString("hex"))
    expect(verifyAdminKey(key, "demo", instanceSecret)).toBe(true)
    // Generating them is part of creating the instance: no event of its own (one request per instance saved).
    expect(decision.events).toEqual([])
  })

  it("repairs an invalid admin key without touching a valid instance secret", () => {
    const first = generated(decide(minimal(), { objects: [], entropy }, now))
    const observed = secret(names.secrets, { [secretKeys.instanceSecret]: first.secret, [secretKeys.adminKey]: "junk" })
    const decision = decide(minimal(), { objects: [observed], entropy: otherEntropy }, now)
    const repaired = generated(decision)
    expect(repaired.secret).toBe(first.secret)
    expect(verifyAdminKey(repaired.key, "demo", first.secret)).toBe(true)
    expect(decision.events).toContainEqual(expect.objectContaining({ type: "Normal", reason: "AdminKeyIssued" }))
  })

  it("regenerates an invalid instance secret, which forces a new admin key, and warns", () => {
    const observed = secret(names.secrets, { [secretKeys.instanceSecret]: "not-hex", [secretKeys.adminKey]: "junk" })
    const decision = decide(minimal(), { objects: [observed], entropy: otherEntropy }, now)
    const repaired = generated(decision)
    expect(repaired.secret).toBe(Buffer.from(otherEntropy.instanceSecret).toString("hex"))
    expect(verifyAdminKey(repaired.key, "demo", repaired.secret)).toBe(true)
    const warning = decision.events.find((event) => event.reason === "InstanceSecretRegenerated")
    expect(warning?.type).toBe("Warning")
    expect(JSON.stringify(decision.events)).not.toContain(repaired.secret)
  })

  it("reissues the admin key when the instance name changes (databaseName)", () => {
    const first = generated(decide(minimal(), { objects: [], entropy }, now))
    const observed = secret(names.secrets, {
      [secretKeys.instanceSecret]: first.secret,
      [secretKeys.adminKey]: first.key
    })
    const renamed = minimal({ backend: { db: { databaseName: "other_db" } } })
    const key = generated(decide(renamed, { objects: [observed], entropy: otherEntropy }, now)).key
    expect(key.startsWith("other-db|")).toBe(true)
  })
})

describe("rollouts", () => {
  const backendHash = (decision: ReturnType<typeof decide>) =>
    find(decision, "StatefulSet", "demo-backend").spec.template.metadata.annotations?.[configHashAnnotation]

  it("the pod template hash changes when a referenced Secret's value changes, and only then", () => {
    const instance = minimal(postgres())
    const a = decide(instance, { objects: [secret("pg", { url: "postgres://u:a@pg:5432" })], entropy }, now)
    const b = decide(instance, { objects: [secret("pg", { url: "postgres://u:b@pg:5432" })], entropy }, now)
    const c = decide(
      instance,
      { objects: [secret("pg", { url: "postgres://u:a@pg:5432", unrelated: "x" })], entropy },
      now
    )
    expect(backendHash(a)).not.toBe(backendHash(b))
    expect(backendHash(a)).toBe(backendHash(c))
  })

  it("the pod template hash changes when the ConfigMap's content changes", () => {
    const a = decide(minimal(), { objects: [], entropy }, now)
    const b = decide(minimal({ backend: { telemetry: { disableBeacon: true } } }), { objects: [], entropy }, now)
    expect(backendHash(a)).not.toBe(backendHash(b))
  })
})

describe("children that are no longer desired", () => {
  it("disabling the dashboard deletes its Deployment and Service", () => {
    const settled = settle(minimal())
    const disabled = minimal({ dashboard: { enabled: false } })
    const decision = decide(
      { ...disabled, status: settled.decision.status },
      { objects: settled.objects, entropy },
      now
    )
    expect(decision.delete.map((ref) => `${ref.kind}/${ref.name}`).sort()).toEqual([
      "Deployment/demo-dashboard",
      "Service/demo-dashboard"
    ])
    expect(condition(decision, "DashboardReady")).toMatchObject({ status: "True", reason: "Disabled" })
  })

  it("never deletes claims or objects of other instances", () => {
    const settled = settle(minimal({ backend: { storage: { pvc: { enabled: true } } } }))
    const foreign: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "x",
        namespace: "convex",
        labels: { "app.kubernetes.io/managed-by": "convex-operator", "app.kubernetes.io/instance": "other" }
      }
    }
    const decision = decide(
      { ...minimal(), status: settled.decision.status },
      { objects: [...settled.objects, foreign], entropy },
      now
    )
    expect(decision.delete).toEqual([])
  })
})

describe("storage", () => {
  it("a retained data claim has no owner; a deleted one is owned by the instance", () => {
    const retain = decide(minimal({ backend: { storage: { pvc: { enabled: true } } } }), { objects: [], entropy }, now)
    expect(find(retain, "PersistentVolumeClaim", "demo-backend-pvc").metadata.ownerReferences).toBeUndefined()
    const remove = decide(
      minimal({ backend: { storage: { pvc: { enabled: true, deletionPolicy: "Delete" } } } }),
      { objects: [], entropy },
      now
    )
    expect(find(remove, "PersistentVolumeClaim", "demo-backend-pvc").metadata.ownerReferences).toHaveLength(1)
  })

  it("SQLite on an explicit emptyDir skips the claim and is reported as not persistent, with one warning", () => {
    const onEmptyDir = minimal({ backend: { storage: { pvc: { enabled: false } } } })
    const first = decide(onEmptyDir, { objects: [], entropy }, now)
    expect(condition(first, "PVCReady")).toMatchObject({ status: "True", reason: "Skipped" })
    expect(condition(first, "DataPersistent")).toMatchObject({ status: "False", reason: "EmptyDir" })
    expect(condition(first, "DataPersistent")?.message).toContain("lost")
    expect(first.events.filter((event) => event.reason === "DataNotPersistent")).toHaveLength(1)
    const second = decide({ ...onEmptyDir, status: first.status }, { objects: first.desired, entropy }, now)
    expect(second.events.filter((event) => event.reason === "DataNotPersistent")).toHaveLength(0)
  })
})

describe("routing status and endpoints", () => {
  it("a listener without its certificate is waiting for it; the API URL stays internal meanwhile", () => {
    const settled = settle(example("convex-dev"))
    const objects = settled.objects.map((object) =>
      object.kind === "Gateway"
        ? {
            ...object,
            status: {
              conditions: [
                { type: "Accepted", status: "True", observedGeneration: 1 },
                { type: "Programmed", status: "True", observedGeneration: 1 }
              ],
              listeners: [
                {
                  name: "api-https",
                  conditions: [{ type: "ResolvedRefs", status: "False", reason: "InvalidCertificateRef" }]
                }
              ]
            }
          }
        : object
    )
    const decision = decide(settled.instance, { objects, entropy }, now)
    expect(condition(decision, "GatewayReady")).toMatchObject({ status: "False", reason: "WaitingForCertificate" })
    expect(condition(decision, "GatewayReady")?.message).toContain('Secret "convex-dev-tls"')
    expect(condition(decision, "Ready")).toMatchObject({ status: "False", reason: "WaitingForGateway" })
    expect(decision.status.endpoints).toEqual({
      apiUrl: "http://convex-dev-backend.convex.svc:3210",
      siteUrl: "http://convex-dev-backend.convex.svc:3211"
    })
  })

  it("public URLs once routes are accepted; the dashboard URL only when the dashboard is ready", () => {
    const settled = settle(example("convex-dev"))
    expect(settled.decision.status.endpoints).toEqual({
      apiUrl: "https://convex-dev.example.com",
      siteUrl: "https://convex-dev.example.com/http",
      dashboardUrl: "https://dashboard.convex-dev.example.com"
    })
    const objects = settled.objects.map((object) =>
      object.kind === "Deployment"
        ? { ...object, status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1 } }
        : object
    )
    const decision = decide(settled.instance, { objects, entropy }, now)
    expect(decision.status.endpoints?.dashboardUrl).toBeUndefined()
    expect(condition(decision, "DashboardReady")?.status).toBe("False")
  })

  it("a route rejected by its Gateway is reported with the Gateway's reason", () => {
    const settled = settle(example("convex-prod"))
    const objects = settled.objects.map((object) =>
      object.kind === "HTTPRoute" && object.metadata.name === "convex-prod-site"
        ? {
            ...object,
            status: {
              parents: [
                {
                  parentRef: { name: "shared-gateway", namespace: "gateways", sectionName: "https" },
                  conditions: [
                    {
                      type: "Accepted",
                      status: "False",
                      reason: "NotAllowedByListeners",
                      message: "namespace not allowed"
                    }
                  ]
                }
              ]
            }
          }
        : object
    )
    const decision = decide(settled.instance, { objects, entropy }, now)
    expect(condition(decision, "HTTPRouteReady")).toMatchObject({ status: "False", reason: "NotAccepted" })
    expect(condition(decision, "HTTPRouteReady")?.message).toContain("NotAllowedByListeners")
  })

  it("routes waiting for their Gateway controller: one message however many of them it has answered yet", () => {
    const settled = settle(example("convex-prod"))
    // No route answered yet; then the API route answered (accepted), the site and dashboard routes not yet.
    const unanswered = (keep: string | undefined) =>
      settled.objects.map((object) =>
        object.kind === "HTTPRoute" && object.metadata.name !== keep ? { ...object, status: {} } : object
      )
    const none = condition(decide(settled.instance, { objects: unanswered(undefined), entropy }, now), "HTTPRouteReady")
    const some = condition(
      decide(settled.instance, { objects: unanswered("convex-prod-api"), entropy }, now),
      "HTTPRouteReady"
    )
    expect(none).toMatchObject({ status: "False", reason: "Provisioning" })
    expect(none?.message).toContain("Gateway gateways/shared-gateway")
    // The same condition: the status does not change (and is not written) while the controller works through them.
    expect(some).toEqual(none)
  })
})

describe("conditions", () => {
  it("carry observedGeneration, and lastTransitionTime moves only on a flip", () => {
    const instance = example("hello")
    const first = decide(instance, { objects: [], entropy }, now)
    for (const c of first.status.conditions ?? []) expect(c.observedGeneration).toBe(1)
    const later = new Date(now.getTime() + 3_600_000)
    const objects = simulateCluster(first.desired)
    const second = decide({ ...instance, status: first.status }, { objects, entropy }, later)
    const time = (decision: typeof first, type: Parameters<typeof findCondition>[1]) =>
      condition(decision, type)?.lastTransitionTime
    expect(time(second, "DataPersistent")).toBe(time(first, "DataPersistent"))
    expect(condition(second, "Ready")?.status).toBe("True")
    expect(time(second, "Ready")).toBe("2025-06-01T13:00:00Z")
    const bumped = { ...instance, metadata: { ...instance.metadata, generation: 2 }, status: second.status }
    const third = decide(bumped, { objects, entropy }, new Date(later.getTime() + 1000))
    for (const c of third.status.conditions ?? []) expect(c.observedGeneration).toBe(2)
    expect(time(third, "Ready")).toBe(time(second, "Ready"))
    expect(third.status.observedGeneration).toBe(2)
  })

  it("are the reference operator's in its order, plus DataPersistent after PVCReady", () => {
    const decision = decide(example("convex-dev"), { objects: sampleReferences, entropy }, now)
    expect(decision.status.conditions?.map((c) => c.type)).toEqual([
      "Ready",
      "ConfigMapReady",
      "SecretsReady",
      "PVCReady",
      "DataPersistent",
      "ServiceReady",
      "DashboardServiceReady",
      "StatefulSetReady",
      "DashboardReady",
      "GatewayReady",
      "HTTPRouteReady",
      "ProxySettingsApplied",
      "UpgradeInProgress",
      "ExportCompleted",
      "ImportCompleted"
    ])
  })
})

describe("requeue", () => {
  it("wakes up when the next periodic restart is due", () => {
    const settled = settle(example("hello"))
    expect(Option.map(settled.decision.requeueAfter, Duration.toHours)).toEqual(Option.some(168))
  })

  it("does not wake up without a restart interval", () => {
    const settled = settle(example("convex-prod"))
    expect(Option.isNone(settled.decision.requeueAfter)).toBe(true)
  })
})

describe("deletion", () => {
  it("an instance being deleted gets no decision: the garbage collector removes its children", () => {
    const settled = settle(minimal())
    const deleting = {
      ...settled.instance,
      metadata: { ...settled.instance.metadata, deletionTimestamp: "2025-06-01T12:00:00Z" }
    }
    const decision = decide(deleting, { objects: settled.objects, entropy }, now)
    expect(decision).toMatchObject({ desired: [], apply: [], delete: [], statusChanged: false, events: [] })
    expect(decision.status).toBe(settled.instance.status)
  })
})
