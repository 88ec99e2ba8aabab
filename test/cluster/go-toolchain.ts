/**
 * The Go toolchain the test tiers build with, and the one place that says which Go is enough.
 *
 * Every Go build here (control plane, kwok, helm, SeaweedFS, Envoy Gateway) runs with `GOTOOLCHAIN=local`, so Go
 * never downloads a newer toolchain for a module that asks for one: the Go on PATH must already satisfy the highest
 * `go` line among the pinned modules. That is Envoy Gateway v1.9.1's (`go 1.26.7`); SeaweedFS asks for 1.26.6, Kubernetes 1.34 and
 * etcd 3.6 only 1.24.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * The `go` line of each Go module the tiers build, at its pinned version, as its go.mod writes it. Checked in, so
 * checking minimumGo needs no network: every build checks the entry of the module it just built against the go.mod
 * in the Go module cache (checkBuiltGoLine), and test/integration/go-toolchain.test.ts checks that this table lists
 * exactly the pinned module versions, that minimumGo is its highest entry, and each entry whose go.mod is on the
 * machine. (This file is in the CI cache key, so an edit here, like a changed pin, means a cold build that checks.)
 */
export const builtModuleGoLines: Readonly<Record<string, string>> = {
  "go.etcd.io/etcd/server/v3@v3.6.8": "1.24.0",
  "sigs.k8s.io/kwok@v0.7.0": "1.24.0",
  "k8s.io/kubernetes@v1.34.4": "1.24.0",
  "helm.sh/helm/v3@v3.19.0": "1.24.0",
  "github.com/seaweedfs/seaweedfs@v0.0.0-20261109003541-7506e5f91cd6": "1.26.6",
  "github.com/envoyproxy/gateway@v1.9.1": "1.26.7"
}

/** Where the table lives, for messages. */
export const goLineTable = "builtModuleGoLines in test/cluster/go-toolchain.ts"

/**
 * The lowest Go that builds every pinned module: the highest `go` line of their go.mod files, i.e. the highest
 * entry of builtModuleGoLines (test/integration/go-toolchain.test.ts fails when it is not).
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

/** The `go` line of a go.mod's text as written (`1.24.0`), or undefined when it has none. */
export const goLineOf = (goMod: string): string | undefined => /^go\s+(\S+)\s*(?:\/\/.*)?$/m.exec(goMod)?.[1]

/** The module cache's escaping of module paths and versions: a capital letter becomes `!` and its lower case. */
const escapeForModuleCache = (text: string) => text.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`)

/**
 * Where the Go module cache keeps `module@version`'s go.mod (`<GOMODCACHE>/cache/download/<module>/@v/<version>.mod`),
 * whether or not it is there. Only asks `go env`: never the network.
 */
export const cachedGoModPath = (module: string, version: string, env: NodeJS.ProcessEnv = process.env): string => {
  const modcache = execFileSync("go", ["env", "GOMODCACHE"], {
    encoding: "utf8",
    env: { ...env, GOTOOLCHAIN: "local" },
    stdio: ["ignore", "pipe", "pipe"]
  }).trim()
  return path.join(
    modcache,
    "cache",
    "download",
    escapeForModuleCache(module),
    "@v",
    `${escapeForModuleCache(version)}.mod`
  )
}

/**
 * Why builtModuleGoLines' entry for `module@version` is not the go line of `goMod` (its go.mod's text, read from
 * `source`), or undefined when it is.
 */
export const goLineMismatch = (module: string, version: string, goMod: string, source: string): string | undefined => {
  const key = `${module}@${version}`
  const real = goLineOf(goMod)
  const listed = builtModuleGoLines[key]
  if (real === undefined) return `the go.mod of ${key} (${source}) has no go line`
  if (listed === undefined) {
    return (
      `${key} is missing from ${goLineTable}: its go.mod (${source}) says go ${real}; add "${key}": "${real}" ` +
      `(and drop the entry of the version it replaces), and set minimumGo to the highest entry`
    )
  }
  if (listed !== real) {
    return (
      `${goLineTable} says ${key} has go ${listed}, but its go.mod (${source}) says go ${real}; set the entry to ` +
      `"${real}" and minimumGo to the highest entry`
    )
  }
  return undefined
}

/**
 * Run right after building `module@version` (its go.mod is then in the Go module cache `env` names): throws, naming
 * the module, its real go line and the table, when builtModuleGoLines' entry for it is missing or stale.
 */
export const checkBuiltGoLine = (module: string, version: string, env: NodeJS.ProcessEnv = process.env): void => {
  const file = cachedGoModPath(module, version, env)
  let goMod: string
  try {
    goMod = fs.readFileSync(file, "utf8")
  } catch (error) {
    throw new Error(
      `built ${module}@${version}, but its go.mod is not in the Go module cache (${file}), so its entry in ` +
        `${goLineTable} cannot be checked: ${String(error)}`
    )
  }
  const problem = goLineMismatch(module, version, goMod, file)
  if (problem !== undefined) throw new Error(`after building ${module}@${version}: ${problem}`)
}
