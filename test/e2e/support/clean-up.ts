/** The end of an e2e file: stop the operator, say how it went, keep the work folder only when it helps. */
import * as fs from "node:fs"
import { afterAll, afterEach } from "vitest"
import type { OperatorProcess } from "./operator-process.js"

/** How one named operator process ended; `ok` false fails the file, naming it. */
export interface ProcessEnd {
  readonly name: string
  readonly ended: string
  readonly ok: boolean
}

/**
 * Stops `operator` (SIGTERM) if it still runs and judges how it ended: exit code 0, or the SIGKILL of the handle's own
 * `kill()` (a crash the test caused). Anything else is a failure: another exit code, another signal, or the SIGKILL
 * `stop` sends to a process that outlived its grace period (a hang at shutdown). Never started: ok.
 */
export const endOf = async (name: string, operator: OperatorProcess | undefined): Promise<ProcessEnd> => {
  if (operator === undefined) return { name, ended: "never started", ok: true }
  if (operator.running()) await operator.stop()
  const exit = operator.exit()
  if (exit === undefined) return { name, ended: "still running after SIGTERM", ok: false }
  if (exit.code !== null) return { name, ended: `exit code ${exit.code}`, ok: exit.code === 0 }
  return exit.killed
    ? { name, ended: `${exit.signal} (killed by the test)`, ok: exit.signal === "SIGKILL" }
    : { name, ended: `${exit.signal}${exit.signal === "SIGKILL" ? " (hung at shutdown)" : ""}`, ok: false }
}

/**
 * Registers the file's hooks: after each test, remember a failure; after all, `stop()`, print `label`, the optional
 * summary and how the operator ended, and delete `work` unless a test failed or CONVEX_OPERATOR_KEEP_CLUSTER is set
 * (then its path is printed, for the operator's log).
 *
 * `stop` resolves either to one operator's exit code (anything but 0 fails the file: a crash at shutdown is a
 * failure; `null` means the file had stopped it already and asserted its code there) or to the end of every operator
 * process of the file ({@link endOf}), each judged on its own, so one replica's clean exit cannot hide another's crash.
 */
export const cleanUpAfterFile = (options: {
  readonly label: string
  readonly work: string
  readonly stop: () => Promise<number | null | undefined | ReadonlyArray<ProcessEnd>>
  readonly summary?: () => string
}): void => {
  let failed = false
  afterEach((context) => {
    if (context.task.result?.state === "fail") failed = true
  })
  afterAll(async () => {
    const stopped = await options.stop()
    const ends: ReadonlyArray<ProcessEnd> =
      typeof stopped === "object" && stopped !== null
        ? stopped
        : [
            {
              name: "operator",
              ended: `exited with ${stopped}`,
              ok: stopped === 0 || stopped === null || stopped === undefined
            }
          ]
    const crashed = ends.filter((end) => !end.ok)
    const keep = failed || crashed.length > 0 || process.env.CONVEX_OPERATOR_KEEP_CLUSTER !== undefined
    const summary = options.summary === undefined ? "" : `${options.summary()}; `
    const told = ends.map((end) => `${end.name} ${end.ended}`).join(", ")
    console.log(`${options.label} ${summary}${told}${keep ? `; logs in ${options.work}` : ""}`)
    if (!keep) fs.rmSync(options.work, { recursive: true, force: true })
    if (crashed.length > 0) {
      throw new Error(
        `${options.label} ${crashed.map((end) => `${end.name}: ${end.ended}`).join("; ")} when stopped (logs in ${options.work})`
      )
    }
  }, 60_000)
}
