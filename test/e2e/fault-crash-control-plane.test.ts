/**
 * Fault injection, the control plane failing under a running operator: the apiserver killed and restarted while a
 * change rolls the backends, etcd compacted past everything the operator saw (its watches answer 410 Gone and it
 * lists again), and the apiserver frozen (SIGSTOP) for longer than the operator's watch idle timeout. Each scene has
 * its own namespace, instances and operator. After each one every instance reaches the desired state, the generated
 * Secrets are byte for byte what they were with admin keys that verify, and the operator exits 0 on SIGTERM.
 */
import * as fs from "node:fs"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { auditTail, byOperator } from "./support/audit.js"
import { crashFile, crashScene, createdOnceProblems, type Scene } from "./support/crash-scene.js"
import { type Json, readyOn, sleep, v1 } from "./support/fault.js"
import { eventually } from "./support/kube.js"

const file = crashFile("fault crash: control plane")
const idleTimeoutSeconds = 15
const apiserverDownSeconds = 8

const phaseEnv = (value: string) => ({ backend: { env: [{ name: "FAULT_PHASE", value }] } })
const hasPhase = (scene: Scene, name: string, value: string) =>
  (
    scene.kubectl().json<Json>(["statefulset", `${name}-backend`, "-n", scene.ns])?.spec.template.spec.containers[0]
      .env ?? []
  ).some((env: Json) => env.name === "FAULT_PHASE" && env.value === value)
const setPhase = (scene: Scene, value: string) => {
  for (const name of scene.names) scene.apply(scene.instance(name, v1, phaseEnv(value)))
}
const convergedOn = (scene: Scene, value: string) =>
  scene.converge(
    `every instance Ready with FAULT_PHASE=${value}`,
    (object, name) => readyOn(object, v1) && hasPhase(scene, name, value)
  )
const setUp = async (scene: Scene) => {
  setPhase(scene, "start")
  await convergedOn(scene, "start")
}
/**
 * Starts the killed or stopped apiserver again, then the components that watch it. Their client-go informers back off
 * up to 30 s a try while the apiserver is gone, so after a restart the controller-manager (rolling the StatefulSets)
 * and kwok (making pods Ready) could lag a minute behind and use up most of a convergence timeout that is meant for
 * the operator; these tests are about the operator's recovery, not theirs.
 */
const restartControlPlane = async () => {
  const { faults } = file.cluster.info()
  const started = Date.now()
  await Effect.runPromise(faults.restart("kube-apiserver"))
  const apiserver = Date.now()
  for (const component of ["kube-controller-manager", "kube-scheduler", "kwok"] as const) {
    await Effect.runPromise(faults.restart(component))
  }
  const seconds = (from: number, to: number) => `${((to - from) / 1000).toFixed(1)}s`
  file.timings.push(`(apiserver up in ${seconds(started, apiserver)}, the others in ${seconds(apiserver, Date.now())})`)
}

/** The operator's log since `offset` (its current log file). */
const logSince = (scene: Scene, offset: number) => fs.readFileSync(scene.operator()!.logFile, "utf8").slice(offset)

describe("the apiserver killed while the backends roll, down for seconds", () => {
  const scene = crashScene(file, "cp-restart", { a0: "inPlace", a1: "inPlace", a2: "inPlace", a3: "inPlace" })

  it("converges after the apiserver's restart (every watch resumes or lists again)", async () => {
    await setUp(scene)
    const before = scene.secrets()
    const { faults } = file.cluster.info()
    await file.timed("apiserver restart", async () => {
      const tail = auditTail(file.audit)
      setPhase(scene, "restart")
      // The kill lands while the backends roll: right after the operator applied the first new template.
      await eventually(
        "the operator to apply a backend StatefulSet",
        () =>
          tail
            .next(`"namespace":"${scene.ns}"`)
            .some(
              (event) =>
                byOperator(event) &&
                event.objectRef?.resource === "statefulsets" &&
                event.verb === "patch" &&
                event.responseStatus?.code === 200
            )
            ? true
            : undefined,
        { intervalMillis: 20 }
      )
      // Down for a while, as on a busy node: the operator's watches back off and come back one by one after the
      // restart (each lists again: 410), while the controller-manager and kwok finish the rolls. The restart is in a
      // finally: whatever fails in between, the next scene gets a working control plane.
      try {
        faults.signal("kube-apiserver", "SIGKILL")
        await sleep(apiserverDownSeconds * 1000)
      } finally {
        await restartControlPlane()
      }
      await convergedOn(scene, "restart")
    })
    scene.expectSecretsKept(before)
    expect(createdOnceProblems(scene)).toEqual([])
    await scene.finish()
  }, 240_000)
})

describe("etcd compacted under open watches", () => {
  const scene = crashScene(file, "cp-compact", { c0: "inPlace", c1: "inPlace" })

  it("lists again after 410 Gone and misses no change", async () => {
    await setUp(scene)
    const before = scene.secrets()
    const { faults } = file.cluster.info()
    await file.timed("compaction", async () => {
      const logged = fs.statSync(scene.operator()!.logFile).size
      // Freeze the operator so the changes reach it only through a list, compact etcd past everything it saw, and
      // restart the apiserver: its fresh watch cache starts after the compaction, so resuming answers 410.
      scene.operator()!.signal("SIGSTOP")
      try {
        setPhase(scene, "compacted")
        await Effect.runPromise(faults.compactEtcd)
        await restartControlPlane()
      } finally {
        scene.operator()!.signal("SIGCONT")
      }
      await convergedOn(scene, "compacted")
      expect(logSince(scene, logged), "the operator saw 410 Gone and listed again").toContain("listing again")
    })
    scene.expectSecretsKept(before)
    expect(createdOnceProblems(scene)).toEqual([])
    await scene.finish()
  }, 240_000)
})

describe("the apiserver frozen longer than the watch idle timeout", () => {
  const scene = crashScene(
    file,
    "cp-frozen",
    { z0: "inPlace", z1: "inPlace" },
    {
      args: [`--watch-idle-timeout=${idleTimeoutSeconds}`]
    }
  )

  it("recovers without a restart of the operator", async () => {
    await setUp(scene)
    const before = scene.secrets()
    const { faults } = file.cluster.info()
    await file.timed("frozen apiserver", async () => {
      const operator = scene.operator()!
      const logged = fs.statSync(operator.logFile).size
      faults.signal("kube-apiserver", "SIGSTOP")
      try {
        await sleep((idleTimeoutSeconds + 5) * 1000)
      } finally {
        faults.signal("kube-apiserver", "SIGCONT")
      }
      setPhase(scene, "thawed")
      await convergedOn(scene, "thawed")
      expect(scene.operator()?.pid).toBe(operator.pid)
      expect(operator.running()).toBe(true)
      expect(logSince(scene, logged), "a watch idle timeout fired while the apiserver was frozen").toContain(
        "no event or bookmark for"
      )
    })
    scene.expectSecretsKept(before)
    expect(createdOnceProblems(scene)).toEqual([])
    await scene.finish()
  }, 240_000)
})
