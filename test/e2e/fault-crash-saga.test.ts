/**
 * Fault injection, crashes of the operator: SIGKILL while instances are created, updated, upgraded (inPlace and
 * exportImport), restored and deleted, the operator started again each time. Each scene has its own namespace,
 * instances and operator, so one failing leaves the others a clean start.
 *
 * - create and update: seeded random kills (some while the operator still lists);
 * - upgrade and restore: a kill right after each kind of saga step began (the pre-upgrade ConvexBackup and its Job
 *   created, the roll applied, the env-save, import and env-restore Jobs created, a restore Job created), found by
 *   tailing the apiserver's audit log;
 * - delete: seeded random kills while three instances are deleted, one of them in the middle of an exportImport
 *   upgrade (held at SavingEnv) and all with the optional PodDisruptionBudget and NetworkPolicy, so that a child of
 *   every kind the cluster serves exists (the env Jobs' ServiceAccount, Role and RoleBinding included); afterwards
 *   nothing of any child kind is left but the retained claims and the pre-upgrade ConvexBackups with their Jobs and
 *   pods.
 *
 * After every phase each generated Secret is byte for byte what it was and its admin key verifies against its
 * instance secret; each object was created exactly once (audit log: one successful create per name, none again after
 * a delete) and each step's objects exist as expected. FAULT_SEED=<n> replays the random kill points.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { AuditEvent } from "./support/audit.js"
import { created as createdRequest, lifecycle, notCreatedOnce } from "./support/audit.js"
import {
  childResources,
  crashFile,
  crashScene,
  createdOnceProblems,
  objectsIn,
  type Scene,
  type Step
} from "./support/crash-scene.js"
import { type Json, readyOn, v1, v2 } from "./support/fault.js"
import { startGatewayController } from "./support/gateway-controller.js"
import { holdJobPods } from "./support/held-job-pods.js"

const file = crashFile("fault crash: sagas", { gatewayApi: true })
let stopGateways: (() => Promise<void>) | undefined
beforeAll(() => {
  // The stand-in Gateway controller, not Envoy Gateway: this file tests the operator, not how an implementation
  // judges its routes (gateway-envoy.test.ts does that), and needs no podman.
  stopGateways = startGatewayController(file.cluster.info().objects)
})
afterAll(async () => {
  await stopGateways?.()
})

const image = (version: string) => `ghcr.io/get-convex/convex-backend:${version}`
const phaseEnv = (value: string) => ({ backend: { env: [{ name: "FAULT_PHASE", value }] } })
/** A successful create (201) of `resource` whose name passes `test`. */
const created = (resource: string, test: (name: string) => boolean) => (event: AuditEvent) =>
  event.objectRef?.resource === resource &&
  event.objectRef.subresource === undefined &&
  (event.verb === "create" || event.verb === "patch") &&
  event.responseStatus?.code === 201 &&
  test(event.objectRef.name ?? "")

describe("kill -9 while instances are created and updated", () => {
  const scene = crashScene(file, "crash-create", {
    f0: "inPlace",
    f1: "inPlace",
    f2: "exportImport",
    f3: "exportImport"
  })
  const statefulSet = (name: string) => scene.kubectl().json<Json>(["statefulset", `${name}-backend`, "-n", scene.ns])
  const hasPhase = (name: string, value: string) =>
    (statefulSet(name)?.spec.template.spec.containers[0].env ?? []).some(
      (env: Json) => env.name === "FAULT_PHASE" && env.value === value
    )

  it("converges with every object created once and the generated secrets kept", async () => {
    await file.timed("create", async () => {
      for (const name of scene.names) scene.apply(scene.instance(name, v1))
      await scene.crash("create", 5)
      await scene.converge("every instance Ready on v1", (object) => readyOn(object, v1))
    })
    scene.expectSecretsKept(new Map())
    expect(createdOnceProblems(scene)).toEqual([])

    const beforeUpdate = scene.secrets()
    await file.timed("update", async () => {
      for (const name of scene.names) {
        scene.apply(
          scene.instance(name, v1, {
            ...phaseEnv("update"),
            ...(name === "f1" ? { dashboard: { enabled: false } } : {})
          })
        )
      }
      await scene.crash("update", 4)
      await scene.converge(
        "every instance Ready with FAULT_PHASE=update",
        (object, name) => readyOn(object, v1) && hasPhase(name, "update")
      )
      await scene.converge(
        "the dashboard of f1 removed",
        () => scene.kubectl().json(["deployment", "f1-dashboard", "-n", scene.ns]) === undefined,
        ["f1"]
      )
    })
    scene.expectSecretsKept(beforeUpdate)
    expect(createdOnceProblems(scene)).toEqual([])
    // The dashboard of f1 was deleted, and (createdOnceProblems) not created again.
    expect(lifecycle(scene.events(), "deployments", scene.ns).get("f1-dashboard")?.[0]).toBe("created")
    await scene.finish()
  }, 300_000)
})

describe("kill -9 inside each step of upgrades and of a restore", () => {
  const strategies = { u0: "inPlace", u1: "inPlace", u2: "exportImport", u3: "exportImport" } as const
  const scene = crashScene(file, "crash-upgrade", strategies)
  const names = scene.names
  const exportImport = names.filter((name) => strategies[name as keyof typeof strategies] === "exportImport")
  const backendImage = (name: string) =>
    scene.kubectl().json<Json>(["statefulset", name, "-n", scene.ns])?.spec.template.spec.containers[0].image
  const job = (infix: string): Step => ({
    label: `${infix.replace(/-/g, "")} Job created`,
    match: created("jobs", (name) => name.includes(`-${infix}-`))
  })

  it("runs every step exactly once and converges, the generated secrets kept", async () => {
    await file.timed("upgrade setup", async () => {
      for (const name of names) scene.apply(scene.instance(name, v1))
      await scene.converge("every instance Ready on v1", (object) => readyOn(object, v1))
    })
    const before = scene.secrets()
    await file.timed("upgrade", async () => {
      const upgrade = () => {
        for (const name of names) scene.apply(scene.instance(name, v2))
      }
      await scene.killInSteps("upgrade", upgrade, [
        {
          label: "pre-upgrade backup created",
          match: created("convexbackups", (name) => name.includes("-pre-upgrade-"))
        },
        {
          label: "export Job created",
          match: created("jobs", (name) => name.includes("-pre-upgrade-") && name.endsWith("-backup"))
        },
        job("envsave"),
        {
          // A server-side apply of the StatefulSet; it was the roll when the template now has the new image.
          label: "roll applied",
          match: (event) =>
            event.objectRef?.resource === "statefulsets" &&
            event.objectRef.subresource === undefined &&
            event.verb === "patch" &&
            event.responseStatus?.code === 200,
          landed: (event) => backendImage(event.objectRef?.name ?? "") === image(v2)
        },
        job("import"),
        job("envrest")
      ])
      await scene.converge("every instance Ready on v2", (object) => readyOn(object, v2))
    })
    scene.expectSecretsKept(before)

    // What exists afterwards: one Completed pre-upgrade ConvexBackup per instance, with its Job; the Jobs of the
    // other steps were removed when the upgrade ended.
    const backups =
      scene.kubectl().json<Json>(["convexbackups", "-n", scene.ns, "-l", "convex.icod.de/upgrade-hash"])?.items ?? []
    const backupOf = new Map<string, Json>()
    for (const name of names) {
      const own = backups.filter((backup: Json) => backup.metadata.name.startsWith(`${name}-pre-upgrade-`))
      expect(
        own.map((backup: Json) => backup.status?.phase),
        `${name}: its pre-upgrade backups`
      ).toEqual(["Completed"])
      backupOf.set(name, own[0])
    }
    expect(backups).toHaveLength(names.length)
    const hashOf = (name: string) => /-pre-upgrade-([0-9a-f]+)-\d+$/.exec(backupOf.get(name)?.metadata.name)?.[1]
    const backupJobs = names.map((name) => `${backupOf.get(name)?.metadata.name}-backup`)
    const stepJobs = exportImport.flatMap((name) =>
      ["envsave", "import", "envrest"].map((step) => `${name}-${step}-${hashOf(name)}`)
    )

    // The restore of a new instance from u0's pre-upgrade backup, killed right after its Job was created. Every
    // instance's generated Secret is checked after it: u0–u3 byte for byte as before, r0's new one verifying.
    const beforeRestore = scene.secrets([...names, "r0"])
    await file.timed("restore", async () => {
      const restore = () =>
        scene.apply({
          ...scene.instance("r0", v2, { restore: { from: { backup: backupOf.get("u0")?.metadata.name } } })
        })
      await scene.killInSteps("restore", restore, [
        { label: "restore Job created", match: created("jobs", (n) => n === "r0-restore") }
      ])
      await scene.converge(
        "r0 Ready on v2 and restored",
        (object) => readyOn(object, v2) && object?.status?.restore?.phase === "Succeeded",
        ["r0"]
      )
    })
    scene.expectSecretsKept(beforeRestore, [...names, "r0"])

    const jobs = (scene.kubectl().json<Json>(["jobs", "-n", scene.ns])?.items ?? []).map(
      (item: Json) => item.metadata.name as string
    )
    expect([...jobs].sort()).toEqual([...backupJobs, "r0-restore"].sort())
    const events = scene.events()
    const createdJobs = [...lifecycle(events, "jobs", scene.ns).keys()]
    expect(createdJobs.sort()).toEqual([...backupJobs, ...stepJobs, "r0-restore"].sort())
    expect(notCreatedOnce(events, "jobs", scene.ns, createdJobs, new Set(jobs))).toEqual([])
    const createdBackups = [...lifecycle(events, "convexbackups", scene.ns).keys()]
    expect(createdBackups.sort()).toEqual(backups.map((backup: Json) => backup.metadata.name).sort())
    expect(
      notCreatedOnce(
        events,
        "convexbackups",
        scene.ns,
        createdBackups,
        new Set(createdBackups.filter((name) => backups.some((backup: Json) => backup.metadata.name === name)))
      )
    ).toEqual([])
    expect(createdOnceProblems(scene)).toEqual([])
    // One roll each: the StatefulSet has two revisions (v1 and v2), and the restore Job ran one pod.
    for (const name of names) {
      const owned = (scene.kubectl().json<Json>(["controllerrevisions", "-n", scene.ns])?.items ?? []).filter(
        (revision: Json) => revision.metadata.name.startsWith(`${name}-backend-`)
      )
      expect(owned, `${name}: revisions of its StatefulSet`).toHaveLength(2)
    }
    const restorePods =
      scene.kubectl().json<Json>(["pods", "-n", scene.ns, "-l", "batch.kubernetes.io/job-name=r0-restore"])?.items ?? []
    expect(restorePods).toHaveLength(1)
    await scene.finish()
  }, 420_000)
})

describe("kill -9 while instances are deleted", () => {
  // d0 has a Gateway and HTTPRoutes, d2 an Ingress; d1 upgrades by exportImport (its traffic stop deletes and later
  // re-creates routes by design, so it has none: every object here is created exactly once). Every instance has the
  // optional PodDisruptionBudget and NetworkPolicy, and d1 is deleted in the middle of its upgrade, held at SavingEnv,
  // so that its env Jobs' ServiceAccount, Role and RoleBinding exist too: every child kind the cluster serves but
  // the NGINX policies and PodMonitor (whose CRDs it lacks) is there when the instances are deleted.
  const scene = crashScene(file, "crash-delete", { d0: "inPlace", d1: "exportImport", d2: "inPlace" })
  const networking: Record<string, Json> = {
    d0: {
      networking: {
        host: "d0.fault.example.test",
        dashboardHost: "dash.d0.fault.example.test",
        gatewayClassName: "nginx"
      }
    },
    d1: {},
    d2: { networking: { mode: "ingress", host: "d2.fault.example.test", ingressClassName: "nginx" } }
  }
  const spec = (name: string): Json => ({
    ...networking[name],
    backend: { podDisruptionBudget: { enabled: true }, networkPolicy: { enabled: true } }
  })
  const premiseKinds = [
    "Gateway",
    "HTTPRoute",
    "Ingress",
    "ConvexBackup",
    "StatefulSet",
    "Secret",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "PodDisruptionBudget",
    "NetworkPolicy"
  ]
  const typeOf = (kind: string) => childResources.find((resource) => resource.kind === kind)?.type ?? kind

  it("leaves nothing behind but the retained claims and the pre-upgrade backups", async () => {
    await file.timed("delete setup", async () => {
      for (const name of scene.names) scene.apply(scene.instance(name, v1, spec(name)))
      await scene.converge("every instance Ready on v1", (object) => readyOn(object, v1))
      for (const name of ["d0", "d2"]) scene.apply(scene.instance(name, v2, spec(name)))
      await scene.converge("d0 and d2 Ready on v2", (object) => readyOn(object, v2), ["d0", "d2"])
      await holdPods(scene, "d1-envsave-")
      scene.apply(scene.instance("d1", v2, spec("d1")))
      await scene.converge(
        "d1 held at SavingEnv, its pre-upgrade backup Completed and its env-save Job created",
        (object) =>
          object?.status?.upgrade?.phase === "SavingEnv" &&
          (scene.kubectl().json<Json>(["jobs", "-n", scene.ns])?.items ?? []).some((job: Json) =>
            String(job.metadata.name).startsWith("d1-envsave-")
          ),
        ["d1"]
      )
    })
    // The premise: children of every kind this test is about exist right before the deletion (one request, so that
    // nothing moves between the look and the delete; d1's upgrade waits for its env-save Job's pod).
    const present = (
      scene
        .kubectl()
        .json<Json>([
          premiseKinds.map(typeOf).join(","),
          "-n",
          scene.ns,
          "-l",
          "app.kubernetes.io/managed-by=convex-operator"
        ])?.items ?? []
    ).map((item: Json) => `${item.kind}/${item.metadata.name}`)
    for (const kind of premiseKinds) {
      expect(
        present.filter((item: string) => item.startsWith(`${kind}/`)),
        `a ${kind} before the deletion`
      ).not.toEqual([])
    }
    for (const kind of ["ServiceAccount", "Role", "RoleBinding"]) expect(present).toContain(`${kind}/d1-snapshot-env`)
    for (const name of scene.names) {
      for (const kind of ["PodDisruptionBudget", "NetworkPolicy"]) expect(present).toContain(`${kind}/${name}-backend`)
    }
    expect(scene.read().find((object) => object.metadata.name === "d1")?.status?.upgrade?.phase).toBe("SavingEnv")
    const deleting = file.audit.offset()
    await file.timed("delete", async () => {
      scene.kubectl()(["delete", "convexinstances", "--all", "-n", scene.ns, "--wait=false"])
      await scene.crash("delete", 4)
      await scene.converge("every instance gone", (object) => object === undefined)
      let left: ReadonlyArray<string> = []
      await scene
        .converge("no child left", () => {
          left = objectsIn(scene.kubectl(), scene.ns)
            .filter((item) => !allowed(item))
            .map((item) => `${item.kind}/${item.metadata.name}`)
          return left.length === 0
        }, ["d0"])
        .catch((error: unknown) => {
          throw new Error(`${String(error)}\nleft: ${left.join(", ")}`)
        })
    })
    const backups =
      scene.kubectl().json<Json>(["convexbackups", "-n", scene.ns, "-l", "convex.icod.de/upgrade-hash"])?.items ?? []
    expect(backups.map((backup: Json) => backup.status?.phase)).toEqual(scene.names.map(() => "Completed"))
    expect(createdOnceProblems(scene)).toEqual([])
    // Nothing but Events was created while the instances were being deleted.
    const createdMeanwhile = scene
      .events(deleting)
      .filter(
        (event) =>
          createdRequest(event) && event.objectRef?.subresource === undefined && event.objectRef?.resource !== "events"
      )
      .map((event) => `${event.objectRef?.resource}/${event.objectRef?.name}`)
    expect(createdMeanwhile).toEqual([])
    await scene.finish()
    scene.kubectl()([
      "delete",
      "validatingadmissionpolicybinding,validatingadmissionpolicy",
      holdName(scene, "d1-envsave-")
    ])
  }, 420_000)
})

/**
 * What may stay after every instance is deleted: the retained claims, the pre-upgrade ConvexBackups with their Jobs
 * and those Jobs' pods, and what Kubernetes itself puts in every namespace.
 */
const allowed = (item: Json): boolean => {
  const name = item.metadata.name as string
  switch (item.kind) {
    case "PersistentVolumeClaim":
      // The data claim, and those exportImport upgrades moved to (`-g<n>`), and the backup claim.
      return /-(backend-pvc(-g[0-9]+)?|backups)$/.test(name)
    case "ConvexBackup":
      return item.metadata.labels?.["convex.icod.de/upgrade-hash"] !== undefined
    case "Job":
    case "Pod":
      return name.includes("-pre-upgrade-")
    case "ServiceAccount":
      return name === "default"
    case "ConfigMap":
      return name === "kube-root-ca.crt"
    default:
      return false
  }
}

const holdName = (scene: Scene, prefix: string) => `${scene.ns}-hold-${prefix.replace(/-$/, "")}`

/** Holds the Jobs of `scene` whose names start with `prefix` without a pod (held-job-pods.ts). */
const holdPods = (scene: Scene, prefix: string) =>
  holdJobPods(
    {
      name: holdName(scene, prefix),
      namespace: scene.ns,
      prefix,
      message: `the fault test holds the Jobs ${prefix}* of ${scene.ns}`
    },
    (object) => scene.apply(object),
    (json) => void scene.kubectl()(["create", "--dry-run=server", "-f", "-"], json)
  )
