import {
  type ConvexInstance,
  childNames,
  type Decision,
  decide,
  findCondition,
  imagesHash,
  type KubeObject
} from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { entropy, find, minimal, now, settle, simulateCluster } from "../decide/support.js"

const v1 = "1111111111111111111111111111111111111111"
const v2 = "2222222222222222222222222222222222222222"
const names = childNames("demo")
const spec = (version: string, strategy: "inPlace" | "exportImport") => ({
  version,
  maintenance: { upgradeStrategy: strategy },
  networking: { host: "api.example.com" }
})

const backendImageOf = (decision: Decision) =>
  find(decision, "StatefulSet", names.backend).spec.template.spec.containers[0]?.image
const jobs = (decision: Decision) =>
  decision.desired.filter((object) => object.kind === "Job").map((object) => object.metadata.name)
const reason = (decision: Decision, type: Parameters<typeof findCondition>[1]) => {
  const c = findCondition(decision.status.conditions, type)
  return `${c?.status}/${c?.reason}`
}

/** The cluster after applying `decision`, keeping Jobs as given by `jobStatus`. */
const cluster = (
  decision: Decision,
  jobStatus: "running" | "complete" | "failed" = "complete"
): ReadonlyArray<KubeObject> =>
  simulateCluster(decision.desired).map((object) =>
    object.kind !== "Job" || jobStatus === "complete"
      ? object
      : {
          ...object,
          status:
            jobStatus === "failed" ? { failed: 4, conditions: [{ type: "Failed", status: "True" }] } : { active: 1 }
        }
  )

/** A settled instance at v1, then its spec changed to v2. */
const upgrading = (strategy: "inPlace" | "exportImport") => {
  const settled = settle(minimal(spec(v1, strategy)), [])
  const instance: ConvexInstance = { ...minimal(spec(v2, strategy)), status: settled.decision.status }
  return { settled, instance }
}

const step = (instance: ConvexInstance, decision: Decision, objects: ReadonlyArray<KubeObject>, at = now) =>
  decide({ ...instance, status: decision.status }, { objects, entropy }, at)

describe("upgrade plan", () => {
  it("a first install is not an upgrade: it records the hash and version once the backend is ready", () => {
    const settled = settle(minimal(spec(v1, "inPlace")), [])
    expect(settled.decision.status.upgradeHash).toBeDefined()
    expect(settled.decision.status.currentVersion).toBe(v1)
    expect(settled.decision.status.upgrade).toBeUndefined()
    expect(reason(settled.decision, "UpgradeInProgress")).toBe("False/UpToDate")
  })

  it("inPlace: export on the old image, then roll to the new one, then done", () => {
    const { settled, instance } = upgrading("inPlace")
    const exporting = decide(instance, { objects: settled.objects, entropy }, now)
    expect(exporting.status.phase).toBe("Upgrading")
    expect(exporting.status.upgrade).toMatchObject({
      phase: "Exporting",
      strategy: "inPlace",
      fromVersion: v1,
      toVersion: v2
    })
    expect(backendImageOf(exporting)).toContain(v1)
    const hash = exporting.status.upgrade?.targetHash ?? ""
    expect(jobs(exporting)).toEqual([names.exportJob(hash)])
    expect(exporting.desired.some((object) => object.metadata.name === names.snapshots)).toBe(true)
    const job = find(exporting, "Job", names.exportJob(hash)).spec.template.spec
    expect(job.restartPolicy).toBe("Never")
    expect(job.containers[0]).toMatchObject({
      image: "ghcr.io/icod-de/convex-operator:latest",
      args: ["snapshot", "export", "--path", `/snapshots/upgrade-${hash}.zip`, "--include-file-storage"],
      env: [
        { name: "CONVEX_SELF_HOSTED_URL", value: "http://demo-backend.convex.svc:3210" },
        { name: "CONVEX_SELF_HOSTED_ADMIN_KEY", valueFrom: { secretKeyRef: { name: names.secrets, key: "admin-key" } } }
      ],
      volumeMounts: [{ name: "snapshots", mountPath: "/snapshots" }]
    })
    expect(job.volumes).toEqual([{ name: "snapshots", persistentVolumeClaim: { claimName: names.snapshots } }])
    expect(reason(exporting, "UpgradeInProgress")).toBe("True/Exporting")
    expect(reason(exporting, "ExportCompleted")).toBe("False/InProgress")
    expect(reason(exporting, "ImportCompleted")).toBe("False/NotRequired")
    // Traffic keeps flowing during an inPlace upgrade.
    expect(exporting.desired.some((object) => object.kind === "HTTPRoute")).toBe(true)

    // Still exporting while the Job runs.
    const stillExporting = step(instance, exporting, cluster(exporting, "running"))
    expect(stillExporting.status.upgrade?.phase).toBe("Exporting")
    expect(stillExporting.apply).toEqual([])

    // The export succeeded: roll to v2.
    const rolling = step(instance, exporting, cluster(exporting))
    expect(rolling.status.upgrade?.phase).toBe("Rolling")
    expect(backendImageOf(rolling)).toContain(v2)
    expect(reason(rolling, "ExportCompleted")).toBe("True/Succeeded")
    expect(reason(rolling, "UpgradeInProgress")).toBe("True/Rolling")

    // The backend is ready on v2: done.
    const done = step(instance, rolling, cluster(rolling))
    expect(done.status.upgrade).toBeUndefined()
    expect(done.status.currentVersion).toBe(v2)
    expect(done.status.upgradeHash).toBe(hash)
    expect(reason(done, "UpgradeInProgress")).toBe("False/UpToDate")
    expect(done.events).toContainEqual(
      expect.objectContaining({ type: "Normal", reason: "UpgradeCompleted", action: "Upgrade" })
    )
    // The export Job is no longer desired and goes; the snapshot claim stays.
    expect(done.delete.map((ref) => ref.kind)).toEqual(["Job"])

    const steady = step(instance, done, cluster(done))
    expect(steady.apply).toEqual([])
    expect(steady.statusChanged).toBe(false)
    expect(steady.status.phase).toBe("Ready")
  })

  it("exportImport: stops traffic, exports, rolls, imports, resumes", () => {
    const { settled, instance } = upgrading("exportImport")
    const exporting = decide(instance, { objects: settled.objects, entropy }, now)
    expect(exporting.desired.some((object) => object.kind === "HTTPRoute")).toBe(false)
    expect(exporting.delete.map((ref) => ref.kind)).toContain("HTTPRoute")
    expect(reason(exporting, "HTTPRouteReady")).toBe("False/TrafficStopped")
    expect(reason(exporting, "ImportCompleted")).toBe("False/NotStarted")
    // The export Job succeeded and the backend rolls in the same pass.
    const rolling = step(instance, exporting, cluster(exporting))
    expect(rolling.status.upgrade?.phase).toBe("Rolling")
    const importing = step(instance, rolling, cluster(rolling))
    expect(importing.status.upgrade?.phase).toBe("Importing")
    const hash = importing.status.upgrade?.targetHash ?? ""
    expect(jobs(importing)).toEqual([names.exportJob(hash), names.importJob(hash)])
    expect(reason(importing, "ImportCompleted")).toBe("False/InProgress")
    const running = step(instance, importing, cluster(importing, "running"))
    expect(running.status.upgrade?.phase).toBe("Importing")
    const done = step(instance, importing, cluster(importing))
    expect(done.status.upgrade).toBeUndefined()
    expect(reason(done, "ImportCompleted")).toBe("True/Succeeded")
    expect(reason(done, "ExportCompleted")).toBe("True/Succeeded")
    expect(done.desired.some((object) => object.kind === "HTTPRoute")).toBe(true)
  })

  it("a failed export stops the upgrade on the old version until the spec changes", () => {
    const { settled, instance } = upgrading("inPlace")
    const exporting = decide(instance, { objects: settled.objects, entropy }, now)
    const failed = step(instance, exporting, cluster(exporting, "failed"))
    expect(failed.status.upgrade).toMatchObject({ phase: "Failed", failedStep: "Export" })
    expect(failed.status.phase).toBe("Error")
    expect(backendImageOf(failed)).toContain(v1)
    expect(reason(failed, "UpgradeInProgress")).toBe("False/UpgradeFailed")
    expect(reason(failed, "ExportCompleted")).toBe("False/Failed")
    expect(reason(failed, "Ready")).toBe("False/UpgradeFailed")
    expect(failed.events.filter((event) => event.type === "Warning").map((event) => event.reason)).toContain(
      "UpgradeFailed"
    )

    // Reverting the version cancels the upgrade.
    const reverted = decide(
      { ...minimal(spec(v1, "inPlace")), status: failed.status },
      { objects: cluster(exporting, "failed"), entropy },
      now
    )
    expect(reverted.status.upgrade).toBeUndefined()
    expect(reverted.status.phase).toBe("Ready")
    expect(backendImageOf(reverted)).toContain(v1)
  })

  it("a failed import keeps the new version and traffic stopped", () => {
    const { settled, instance } = upgrading("exportImport")
    const exporting = decide(instance, { objects: settled.objects, entropy }, now)
    const rolling = step(instance, exporting, cluster(exporting))
    const importing = step(instance, rolling, cluster(rolling))
    const failed = step(instance, importing, cluster(importing, "failed"))
    expect(failed.status.upgrade).toMatchObject({ phase: "Failed", failedStep: "Import" })
    expect(backendImageOf(failed)).toContain(v2)
    expect(failed.desired.some((object) => object.kind === "HTTPRoute")).toBe(false)
    expect(reason(failed, "ImportCompleted")).toBe("False/Failed")
  })

  it("a new target while exporting restarts the export from the same old images", () => {
    const { settled, instance } = upgrading("inPlace")
    const exporting = decide(instance, { objects: settled.objects, entropy }, now)
    const v3 = "3333333333333333333333333333333333333333"
    const retargeted = decide(
      { ...minimal(spec(v3, "inPlace")), status: exporting.status },
      { objects: cluster(exporting, "running"), entropy },
      now
    )
    expect(retargeted.status.upgrade).toMatchObject({ phase: "Exporting", toVersion: v3, fromVersion: v1 })
    expect(backendImageOf(retargeted)).toContain(v1)
    const hash = retargeted.status.upgrade?.targetHash ?? ""
    expect(jobs(retargeted)).toEqual([names.exportJob(hash)])
  })

  it("a spec whose images already run is not an upgrade", () => {
    const settled = settle(minimal(spec(v1, "inPlace")), [])
    const target = {
      version: v1,
      backend: `ghcr.io/get-convex/convex-backend:${v1}`,
      dashboard: `ghcr.io/get-convex/convex-dashboard:${v1}`
    }
    expect(settled.decision.status.upgradeHash).toBe(imagesHash(target))
  })
})
