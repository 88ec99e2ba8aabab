/**
 * Builds the local control plane's binaries from Go modules into a version-keyed cache, and fetches
 * the Gateway API CRDs and kwok's Stage configs. Reuses the cache when every binary is present;
 * uses `$KUBEBUILDER_ASSETS` instead of building when it is set.
 *
 * Run by hand with `npm run cluster:build` (or `tsx test/cluster/build.ts`).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Data, Effect } from "effect"
import { type CommandError, defaultLog, exec, type Log } from "./exec.js"
import { kubernetesVersionLdflags, renderEtcdGoMod, renderKubernetesGoMod } from "./go-mod.js"
import { checkBuiltGoLine, goSatisfies, minimumGo } from "./go-toolchain.js"
import { allBinaries, type BinaryName, binaries, cachePaths, kwokStageFiles, versions } from "./versions.js"

export class BuildError extends Data.TaggedError("BuildError")<{ readonly reason: string }> {
  override get message() {
    return `local control plane build failed: ${this.reason}`
  }
}

export interface Assets {
  /** Folder with etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, kubectl. */
  readonly binDir: string
  readonly source: "KUBEBUILDER_ASSETS" | "cache"
  readonly gatewayApiCrds: ReadonlyArray<string>
  /** One multi-document file with kwok's node and pod Stages. */
  readonly kwokStagesFile: string
}

export interface EnsureOptions {
  readonly log?: Log
  readonly env?: NodeJS.ProcessEnv
}

const templates = fileURLToPath(new URL("./go/", import.meta.url))

export const missingBinaries = (binDir: string): ReadonlyArray<BinaryName> =>
  allBinaries.filter((name) => !fs.existsSync(path.join(binDir, name)))

const fromCommand = (step: string) => (error: CommandError) =>
  new BuildError({
    reason: `${step}: ${error.message}${
      error.reason.includes("not found on PATH")
        ? `\nInstall Go ≥ ${minimumGo} (https://go.dev/dl) and make sure \`go\` is on PATH, or point KUBEBUILDER_ASSETS at a folder with the binaries.`
        : ""
    }`
  })

const tryIO = <A>(step: string, f: () => A) =>
  Effect.try({ try: f, catch: (cause) => new BuildError({ reason: `${step}: ${String(cause)}` }) })

const goEnv = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
  ...env,
  CGO_ENABLED: "0",
  GOTOOLCHAIN: "local",
  GOWORK: "off"
})

/** `go mod download -json module@version` → the module's folder and go.mod path in the module cache. */
const downloadModule = (module: string, version: string, env: NodeJS.ProcessEnv, cwd: string) =>
  exec("go", ["mod", "download", "-json", `${module}@${version}`], { env, cwd }).pipe(
    Effect.mapError(fromCommand(`downloading ${module}@${version}`)),
    Effect.flatMap((stdout) =>
      tryIO(`reading go mod download output for ${module}`, () => JSON.parse(stdout) as { Dir: string; GoMod: string })
    )
  )

const checkGo = (env: NodeJS.ProcessEnv) =>
  exec("go", ["env", "GOVERSION"], { env }).pipe(
    Effect.mapError(fromCommand("checking the Go toolchain")),
    Effect.map((out) => out.trim()),
    Effect.filterOrFail(
      (goversion) => goSatisfies(goversion),
      (goversion) =>
        new BuildError({
          reason: `checking the Go toolchain: ${goversion} is older than Go ${minimumGo}, the minimum of the pinned modules (builds use GOTOOLCHAIN=local). Install Go ≥ ${minimumGo} (https://go.dev/dl), or point KUBEBUILDER_ASSETS at a folder with the binaries.`
        })
    )
  )

const buildBinaries = (options: Required<EnsureOptions>) =>
  Effect.gen(function* () {
    const { log } = options
    const paths = cachePaths(options.env)
    const env = goEnv(options.env)
    const goVersion = yield* checkGo(env)
    const started = Date.now()
    log(
      `building Kubernetes ${versions.kubernetes}, etcd ${versions.etcd}, kwok ${versions.kwok} with ${goVersion} into ${paths.binDir}`
    )
    log("a cold build takes 10–25 minutes on 2 cores; later runs reuse the binaries")
    const staging = `${paths.binDir}.partial-${process.pid}`
    const k8sDir = path.join(paths.workDir, "kubernetes")
    const etcdDir = path.join(paths.workDir, "etcd")
    const logFile = path.join(paths.workDir, "build.log")
    yield* tryIO("preparing folders", () => {
      for (const dir of [staging, k8sDir, etcdDir]) fs.mkdirSync(dir, { recursive: true })
    })
    log(`build log: ${logFile}`)
    const step = (label: string, args: ReadonlyArray<string>, cwd: string, extraEnv: NodeJS.ProcessEnv = {}) =>
      exec("go", args, { cwd, env: { ...env, ...extraEnv }, logFile, label, log }).pipe(
        Effect.mapError(fromCommand(label))
      )
    const ldflags = "-s -w"
    // Right after each module is built: its go.mod (now in the module cache) must have the go line the table says.
    const goLineChecked = (module: string, version: string) =>
      Effect.try({
        try: () => checkBuiltGoLine(module, version, env),
        catch: (cause) => new BuildError({ reason: cause instanceof Error ? cause.message : String(cause) })
      })

    // etcd: a wrapper module (its own go.mod has local replaces, so `go install …@v` is refused).
    const etcdTemplate = yield* tryIO("reading go/etcd/go.mod.tmpl", () =>
      fs.readFileSync(path.join(templates, "etcd", "go.mod.tmpl"), "utf8")
    )
    yield* tryIO("writing the etcd wrapper go.mod", () =>
      fs.writeFileSync(path.join(etcdDir, "go.mod"), renderEtcdGoMod(etcdTemplate, versions.etcd))
    )
    yield* step(`resolving etcd ${versions.etcd} modules`, ["mod", "tidy"], etcdDir)
    yield* step(
      `building etcd ${versions.etcd}`,
      ["build", "-trimpath", "-ldflags", ldflags, "-o", path.join(staging, binaries.etcd), "go.etcd.io/etcd/server/v3"],
      etcdDir
    )
    yield* goLineChecked("go.etcd.io/etcd/server/v3", versions.etcd)

    // kwok installs directly.
    yield* step(
      `building kwok ${versions.kwok}`,
      ["install", "-trimpath", "-ldflags", ldflags, `sigs.k8s.io/kwok/cmd/kwok@${versions.kwok}`],
      paths.workDir,
      { GOBIN: staging }
    )
    yield* goLineChecked("sigs.k8s.io/kwok", versions.kwok)

    // Kubernetes: a wrapper module whose replaces come from upstream's go.mod.
    const upstream = yield* downloadModule("k8s.io/kubernetes", versions.kubernetes, env, paths.workDir)
    const k8sTemplate = yield* tryIO("reading go/kubernetes/go.mod.tmpl", () =>
      fs.readFileSync(path.join(templates, "kubernetes", "go.mod.tmpl"), "utf8")
    )
    const upstreamGoMod = yield* tryIO("reading upstream go.mod", () => fs.readFileSync(upstream.GoMod, "utf8"))
    yield* tryIO("writing the kubernetes wrapper go.mod", () =>
      fs.writeFileSync(
        path.join(k8sDir, "go.mod"),
        renderKubernetesGoMod(k8sTemplate, upstreamGoMod, versions.kubernetes)
      )
    )
    yield* step(`resolving Kubernetes ${versions.kubernetes} modules`, ["mod", "tidy"], k8sDir)
    const k8sBinaries = [binaries.apiserver, binaries.controllerManager, binaries.scheduler, binaries.kubectl]
    yield* step(
      `building ${k8sBinaries.join(", ")} ${versions.kubernetes}`,
      [
        "build",
        "-trimpath",
        "-ldflags",
        [ldflags, ...kubernetesVersionLdflags(versions.kubernetes)].join(" "),
        "-o",
        `${staging}${path.sep}`,
        ...k8sBinaries.map((name) => `k8s.io/kubernetes/cmd/${name}`)
      ],
      k8sDir
    )
    yield* goLineChecked("k8s.io/kubernetes", versions.kubernetes)

    yield* tryIO("moving binaries into the cache", () => {
      fs.mkdirSync(paths.binDir, { recursive: true })
      for (const name of allBinaries) fs.renameSync(path.join(staging, name), path.join(paths.binDir, name))
      fs.rmSync(staging, { recursive: true, force: true })
    })
    log(`built all binaries in ${Math.round((Date.now() - started) / 1000)}s`)
  })

/** Copies the Gateway API standard CRDs out of the module cache (once). */
const ensureGatewayApiCrds = (options: Required<EnsureOptions>) =>
  Effect.gen(function* () {
    const { gatewayApiCrdDir, workDir } = cachePaths(options.env)
    const list = () =>
      fs.existsSync(gatewayApiCrdDir)
        ? fs
            .readdirSync(gatewayApiCrdDir)
            .filter((file) => file.endsWith(".yaml"))
            .sort()
            .map((file) => path.join(gatewayApiCrdDir, file))
        : []
    const present = list()
    if (present.length > 0) return present
    options.log(`fetching Gateway API ${versions.gatewayApi} CRDs`)
    yield* tryIO("preparing folders", () => fs.mkdirSync(workDir, { recursive: true }))
    const module = yield* downloadModule("sigs.k8s.io/gateway-api", versions.gatewayApi, goEnv(options.env), workDir)
    return yield* tryIO("copying Gateway API CRDs", () => {
      const source = path.join(module.Dir, "config", "crd", "standard")
      const staging = `${gatewayApiCrdDir}.partial-${process.pid}`
      fs.mkdirSync(staging, { recursive: true })
      for (const file of fs.readdirSync(source).filter((f) => f.endsWith(".yaml"))) {
        fs.writeFileSync(path.join(staging, file), fs.readFileSync(path.join(source, file)))
      }
      fs.renameSync(staging, gatewayApiCrdDir)
      return list()
    })
  })

/** Concatenates kwok's Stage configs into one multi-document file (once). */
const ensureKwokStages = (options: Required<EnsureOptions>) =>
  Effect.gen(function* () {
    const { kwokStagesFile, workDir } = cachePaths(options.env)
    if (fs.existsSync(kwokStagesFile)) return kwokStagesFile
    options.log(`fetching kwok ${versions.kwok} Stage configs`)
    yield* tryIO("preparing folders", () => fs.mkdirSync(workDir, { recursive: true }))
    const module = yield* downloadModule("sigs.k8s.io/kwok", versions.kwok, goEnv(options.env), workDir)
    return yield* tryIO("writing kwok stages", () => {
      const docs = kwokStageFiles.map((file) => fs.readFileSync(path.join(module.Dir, file), "utf8").trim())
      const staging = `${kwokStagesFile}.partial-${process.pid}`
      fs.writeFileSync(staging, `${docs.map((doc) => doc.replace(/^---\n/, "")).join("\n---\n")}\n`)
      fs.renameSync(staging, kwokStagesFile)
      return kwokStagesFile
    })
  })

/** Finds or builds every asset of the local control plane. */
export const ensureAssets = (options: EnsureOptions = {}): Effect.Effect<Assets, BuildError> =>
  Effect.gen(function* () {
    const resolved: Required<EnsureOptions> = { log: options.log ?? defaultLog, env: options.env ?? process.env }
    const fromEnv = resolved.env.KUBEBUILDER_ASSETS
    const binDir = fromEnv ?? cachePaths(resolved.env).binDir
    if (fromEnv === undefined && missingBinaries(binDir).length > 0) {
      yield* buildBinaries(resolved)
    }
    const gatewayApiCrds = yield* ensureGatewayApiCrds(resolved)
    const kwokStagesFile = yield* ensureKwokStages(resolved)
    return {
      binDir,
      source: fromEnv === undefined ? "cache" : "KUBEBUILDER_ASSETS",
      gatewayApiCrds,
      kwokStagesFile
    } satisfies Assets
  })

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  Effect.runPromise(ensureAssets()).then(
    (assets) => {
      defaultLog(`binaries: ${assets.binDir} (${assets.source})`)
      const missing = missingBinaries(assets.binDir)
      if (missing.length > 0) defaultLog(`missing from KUBEBUILDER_ASSETS: ${missing.join(", ")}`)
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error)
      process.exit(1)
    }
  )
}
