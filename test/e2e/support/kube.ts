/** kubectl and polling helpers for end-to-end tests. */
import { execFileSync } from "node:child_process"

export interface Kubectl {
  /** Runs kubectl; throws with its stderr on a non-zero exit. */
  (args: ReadonlyArray<string>, input?: string): string
  /** `kubectl get -o json`, parsed; undefined when not found. */
  readonly json: <A = Record<string, unknown>>(args: ReadonlyArray<string>) => A | undefined
}

export const makeKubectl = (binary: string, kubeconfig: string): Kubectl => {
  const run = (args: ReadonlyArray<string>, input?: string): string => {
    try {
      return execFileSync(binary, ["--kubeconfig", kubeconfig, ...args], {
        encoding: "utf8",
        // Lists of large objects (hostile specs of a MiB) exceed the default 1 MiB.
        maxBuffer: 256 * 1024 * 1024,
        ...(input === undefined ? { stdio: ["ignore", "pipe", "pipe"] } : { input }),
        timeout: 30_000
      })
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? String(error)
      throw new Error(`kubectl ${args.join(" ")}: ${stderr}`)
    }
  }
  const json = <A>(args: ReadonlyArray<string>): A | undefined => {
    try {
      return JSON.parse(run(["get", ...args, "-o", "json"])) as A
    } catch (error) {
      if (String(error).includes("NotFound") || String(error).includes("not found")) return undefined
      throw error
    }
  }
  return Object.assign(run, { json })
}

/** Polls `check` until it returns a value other than undefined; fails with `describe()` after the timeout. */
export const eventually = async <A>(
  description: string,
  check: () => A | undefined | Promise<A | undefined>,
  options: { readonly timeoutMillis?: number; readonly intervalMillis?: number; readonly detail?: () => string } = {}
): Promise<A> => {
  const deadline = Date.now() + (options.timeoutMillis ?? 60_000)
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${description}${lastError === undefined ? "" : `; last error: ${String(lastError)}`}${
          options.detail === undefined ? "" : `\n${options.detail()}`
        }`
      )
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMillis ?? 250))
  }
}

export interface Condition {
  readonly type: string
  readonly status: string
  readonly reason: string
  readonly message: string
}

export const conditionOf = (object: unknown, type: string): Condition | undefined =>
  ((object as { status?: { conditions?: ReadonlyArray<Condition> } } | undefined)?.status?.conditions ?? []).find(
    (condition) => condition.type === type
  )
