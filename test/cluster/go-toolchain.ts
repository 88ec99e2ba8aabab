/**
 * The Go toolchain the test tiers build with, and the one place that says which Go is enough.
 *
 * Every Go build here (control plane, kwok, helm, SeaweedFS, Envoy Gateway) runs with `GOTOOLCHAIN=local`, so Go
 * never downloads a newer toolchain for a module that asks for one: the Go on PATH must already satisfy the highest
 * `go` line among the pinned modules. That is Envoy Gateway v1.9.1's (`go 1.26.7`); SeaweedFS asks for 1.26.6, Kubernetes 1.34 and
 * etcd 3.6 only 1.24.
 */
import { execFileSync } from "node:child_process"

/**
 * The lowest Go that builds every pinned module: the highest `go` line of their go.mod files
 * (test/integration/go-toolchain.test.ts reads them and fails when this is not their maximum).
 */
export const minimumGo = "1.26.7"

/** `go1.26.8` or `go1.26rc1 X:…` → `[1, 26, 8]` (a release candidate counts as its minor's `.0`). */
export const parseGoVersion = (goversion: string): readonly [number, number, number] | undefined => {
  const match = /^go(\d+)\.(\d+)(?:\.(\d+))?/.exec(goversion.trim())
  if (match === null) return undefined
  return [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)]
}

/** Whether `goversion` (as `go env GOVERSION` prints it) is at least `minimum` (`1.26.6`). */
export const goSatisfies = (goversion: string, minimum: string = minimumGo): boolean => {
  const found = parseGoVersion(goversion)
  const wanted = parseGoVersion(`go${minimum}`)
  if (found === undefined || wanted === undefined) return false
  for (let i = 0; i < 3; i++) {
    if ((found[i] as number) !== (wanted[i] as number)) return (found[i] as number) > (wanted[i] as number)
  }
  return true
}

const howToGet = `Install Go ${minimumGo} or newer (https://go.dev/dl) and put it on PATH.`

/** Why the Go on PATH cannot build the pinned modules, or undefined when it can. */
export const goProblem = (env: NodeJS.ProcessEnv = process.env): string | undefined => {
  let goversion: string
  try {
    goversion = execFileSync("go", ["env", "GOVERSION"], {
      encoding: "utf8",
      env: { ...env, GOTOOLCHAIN: "local" },
      stdio: ["ignore", "pipe", "pipe"]
    }).trim()
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT"
    return `${missing ? "go is not on PATH" : `go env GOVERSION failed: ${String(error)}`}. ${howToGet}`
  }
  if (goSatisfies(goversion)) return undefined
  return (
    `${goversion} is too old: the pinned modules need Go ${minimumGo} (the highest go line among them), and builds use ` +
    `GOTOOLCHAIN=local, so Go will not fetch a newer toolchain itself. ${howToGet}`
  )
}

/** Throws with `goProblem`'s message when the Go on PATH cannot build the pinned modules. */
export const requireGo = (what: string, env: NodeJS.ProcessEnv = process.env): void => {
  const problem = goProblem(env)
  if (problem !== undefined) throw new Error(`building ${what} needs Go ≥ ${minimumGo}: ${problem}`)
}
