/** The end of an e2e file: stop the operator, say how it went, keep the work folder only when it helps. */
import * as fs from "node:fs"
import { afterAll, afterEach } from "vitest"

/**
 * Registers the file's hooks: after each test, remember a failure; after all, `stop()` (resolving to the
 * operator's exit code), print `label`, the optional summary and the exit code, and delete `work` unless a test
 * failed or CONVEX_OPERATOR_KEEP_CLUSTER is set (then its path is printed, for the operator's log). An operator that
 * exits with anything but 0 on SIGTERM fails the file (a crash at shutdown is a failure); `null` means the file had
 * stopped it already (and asserted its code there).
 */
export const cleanUpAfterFile = (options: {
  readonly label: string
  readonly work: string
  readonly stop: () => Promise<number | null | undefined>
  readonly summary?: () => string
}): void => {
  let failed = false
  afterEach((context) => {
    if (context.task.result?.state === "fail") failed = true
  })
  afterAll(async () => {
    const code = await options.stop()
    const crashed = code !== 0 && code !== null && code !== undefined
    const keep = failed || crashed || process.env.CONVEX_OPERATOR_KEEP_CLUSTER !== undefined
    const summary = options.summary === undefined ? "" : `${options.summary()}; `
    console.log(`${options.label} ${summary}operator exited with ${code}${keep ? `; logs in ${options.work}` : ""}`)
    if (!keep) fs.rmSync(options.work, { recursive: true, force: true })
    if (crashed) {
      throw new Error(`${options.label} the operator exited with ${code} when stopped (logs in ${options.work})`)
    }
  }, 60_000)
}
