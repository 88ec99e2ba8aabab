/**
 * Journal before act, through the whole operator on the in-memory apiserver: while an exportImport upgrade runs, every
 * object a step creates (the pre-upgrade ConvexBackup, the env Jobs' RBAC, the env-save, import and env-restore Jobs)
 * and the roll of the backend's image come after a version of the instance whose status already journals that step.
 * The apiserver's resourceVersions are one counter, so the order of the watch events is the order of the writes. An
 * operator killed between a step's first write and its status would otherwise leave writes no status names.
 */
import { KubeClient, type KubeObject, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream, TestClock } from "effect"
import { ConvexBackups } from "../src/shell/backup-resources.js"
import { ConvexInstances, RoleBindings, Roles, ServiceAccounts } from "../src/shell/resources.js"
import {
  getInstance,
  type InstanceStatus,
  jobSucceeded,
  layers,
  namespace,
  readyInstance,
  rollOutUntil,
  runOperator,
  settle,
  statusOf,
  untilReady,
  untilStatus,
  v2,
  wholeOperatorTimeout
} from "./support/operator-harness.js"

interface Written {
  readonly type: string
  readonly object: KubeObject
}

const version = (object: KubeObject) => Number(object.metadata.resourceVersion)

/** Records every watch event of `resource` in the namespace from `resourceVersion` on, into `into`. */
const record = (resource: Resource.Resource<KubeObject>, resourceVersion: string, into: Array<Written>) =>
  Effect.flatMap(KubeClient, (kube) =>
    kube.watch(resource, { namespace, resourceVersion }).pipe(
      Stream.runForEach((event) =>
        Effect.sync(() => {
          if (event.type !== "BOOKMARK") into.push({ type: event.type, object: event.object as KubeObject })
        })
      ),
      Effect.forkScoped
    )
  )

const imageOf = (statefulSet: KubeObject) =>
  (statefulSet.spec as { template?: { spec?: { containers?: Array<{ image?: string }> } } } | undefined)?.template?.spec
    ?.containers?.[0]?.image

/** The step of the upgrade a write belongs to, and what the journal must say of it; undefined: not a saga write. */
const journalFor = (
  written: Written,
  rolledFrom: string | undefined
): { readonly what: string; readonly journals: (status: InstanceStatus) => boolean } | undefined => {
  const { kind } = written.object
  const name = written.object.metadata.name ?? ""
  const upgrade = (status: InstanceStatus) =>
    status.upgrade as { phase?: string; backup?: string; attempt?: number } | undefined
  if (written.type === "ADDED" && kind === "ConvexBackup")
    return {
      what: `ConvexBackup ${name}`,
      journals: (status) => upgrade(status)?.phase === "Exporting" && upgrade(status)?.backup === name
    }
  if (written.type === "ADDED" && kind === "Job") {
    const phase = name.includes("-envsave-")
      ? "SavingEnv"
      : name.includes("-import-")
        ? "Importing"
        : name.includes("-envrest-")
          ? "RestoringEnv"
          : undefined // the backup's own Job, created by the backup controller
    return phase === undefined
      ? undefined
      : { what: `Job ${name}`, journals: (status) => upgrade(status)?.phase === phase }
  }
  if (written.type === "ADDED" && ["ServiceAccount", "Role", "RoleBinding"].includes(kind ?? ""))
    return { what: `${kind} ${name}`, journals: (status) => upgrade(status) !== undefined }
  if (written.type === "MODIFIED" && kind === "StatefulSet" && imageOf(written.object) !== rolledFrom)
    return {
      what: `the roll of ${name} to ${imageOf(written.object)}`,
      journals: (status) => upgrade(status)?.phase === "Rolling"
    }
  return undefined
}

describe("journal before act", () => {
  it.scoped(
    "every step of an exportImport upgrade is in the status before its first write",
    () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(Date.parse("2026-03-01T00:00:00Z"))
        const operator = yield* runOperator()
        yield* readyInstance("demo", { maintenance: { upgradeStrategy: "exportImport" } })
        const kube = yield* KubeClient
        const start = yield* getInstance("demo")
        const oldImage = imageOf(yield* kube.get(Resource.StatefulSet, "demo-backend", { namespace }))
        const from = start.metadata.resourceVersion ?? "0"
        const instances: Array<Written> = []
        const children: Array<Written> = []
        yield* record(ConvexInstances, from, instances)
        for (const resource of [
          Resource.Job,
          ConvexBackups,
          ServiceAccounts,
          Roles,
          RoleBindings,
          Resource.StatefulSet
        ])
          yield* record(resource as Resource.Resource<KubeObject>, from, children)

        yield* kube.patch(ConvexInstances, "demo", { spec: { version: v2 } }, { namespace, type: "merge" })
        // Plays the cluster through each step: the backup's Job, then each Job of the instance, then the roll.
        for (const phase of ["Exporting", "SavingEnv", "Rolling", "Importing", "RestoringEnv"]) {
          yield* untilStatus("demo", `upgrade phase ${phase}`, (status) => status.upgrade?.phase === phase)
          yield* settle
          const upgrade = statusOf(yield* getInstance("demo")).upgrade as { backup?: string } | undefined
          const jobs = (yield* kube.list(Resource.Job, { namespace })).items.map((job) => job.metadata.name ?? "")
          const step =
            phase === "Exporting"
              ? jobs.find((job) => job.startsWith(upgrade?.backup ?? "-"))
              : jobs.find((job) =>
                  job.includes(
                    { SavingEnv: "-envsave-", Importing: "-import-", RestoringEnv: "-envrest-" }[phase] ?? "-"
                  )
                )
          if (phase === "Rolling")
            yield* rollOutUntil("demo", "the roll done", (status) => status.upgrade?.phase !== phase)
          else {
            expect(step, `the Job of ${phase}`).toBeDefined()
            yield* jobSucceeded(step ?? "")
          }
        }
        yield* untilStatus("demo", "the upgrade done", (status) => status.upgrade === undefined)
        yield* untilReady("demo")
        yield* settle

        const checked: Array<string> = []
        for (const written of children) {
          const step = journalFor(written, oldImage)
          if (step === undefined) continue
          const journal = [start, ...instances.map((event) => event.object)]
            .filter((instance) => version(instance) < version(written.object))
            .at(-1)
          expect(journal && step.journals(statusOf(journal)), `the status before ${step.what}`).toBe(true)
          checked.push(step.what.split(" ")[0] === "the" ? "roll" : (step.what.split(" ")[0] ?? ""))
        }
        // Every kind of step was seen, so the check above cannot pass for want of writes.
        expect(new Set(checked)).toEqual(
          new Set(["ConvexBackup", "Job", "ServiceAccount", "Role", "RoleBinding", "roll"])
        )
        yield* operator.stop
      }).pipe(Effect.provide(layers)),
    wholeOperatorTimeout
  )
})
