/**
 * The `convex-operator` executable as the image runs it: one minified ES module bundle of the sources (esbuild), with
 * the code only some commands need (the backup Job's S3 transfer) in chunks loaded when used. The Dockerfile builds
 * it with this script, and the e2e tests and the benchmark run the same bundle, so what is measured is what ships.
 *
 * Why a bundle: loading the compiled packages file by file from node_modules keeps every module of every dependency
 * (the whole of @kubernetes/client-node's generated API, the AWS SDK) in memory; the bundle keeps what the operator
 * reaches, minified. Without esbuild's `keepNames`: it wraps every function the bundle creates, at run time too, in a
 * helper that redefines its `name` (a CPU profile at N = 1000 put that helper and its `defineProperty` calls at about
 * 6 % of the operator's busy time, bench/results/n1000-alarm-profile.txt). Nothing the operator does reads a
 * minified function's name: errors carry their `_tag` and name from Effect, spans and commands are named in the code,
 * and the AWS SDK's commands name themselves.
 *
 *   tsx scripts/bundle-operator.ts <outdir>   → <outdir>/convex-operator.mjs (+ <outdir>/chunks/)
 *
 * @module
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const require = createRequire(import.meta.url)

/**
 * The options of Node the image runs the operator with (its `NODE_OPTIONS`; the image tier checks the Dockerfile says
 * the same). A young generation of 2 MiB semi-spaces instead of 16: the operator's allocations are many and short
 * (watch events, decisions), and the default lets the heap hold tens of MiB of garbage between scavenges.
 */
export const operatorNodeOptions: ReadonlyArray<string> = ["--max-semi-space-size=2"]

/**
 * The operator takes only `KubeConfig` from @kubernetes/client-node (the live KubeClient sends its own requests). The
 * package's entry re-exports its whole generated API, and `KubeConfig`'s module imports the generated index for two
 * names; bundled as they are, the operator would evaluate every generated model class (about 1,400 of them, each with
 * a static type map) at start-up, MiBs of heap it never reads. This plugin resolves the operator's import of the
 * package to the module of `KubeConfig`, and that module's import of the generated index to the two modules it takes
 * names from. A name the operator imports that these modules do not export fails the build.
 */
const kubeConfigOnly: import("esbuild").Plugin = {
  name: "client-node-kubeconfig-only",
  setup(build) {
    const packageRoot = path.dirname(require.resolve("@kubernetes/client-node/package.json", { paths: [repoRoot] }))
    const dist = path.join(packageRoot, "dist")
    build.onResolve({ filter: /^@kubernetes\/client-node$/ }, () => ({ path: path.join(dist, "config.js") }))
    build.onResolve({ filter: /^\.\/gen\/index\.js$/ }, (args) =>
      args.importer === path.join(dist, "config.js") ? { path: "gen-for-config", namespace: "client-node" } : undefined
    )
    build.onLoad({ filter: /^gen-for-config$/, namespace: "client-node" }, () => ({
      contents: [
        `export { createConfiguration } from ${JSON.stringify(path.join(dist, "gen/configuration.js"))}`,
        `export { ServerConfiguration } from ${JSON.stringify(path.join(dist, "gen/servers.js"))}`
      ].join("\n"),
      resolveDir: path.join(dist, "gen"),
      loader: "js"
    }))
  }
}

/** The entry file of a bundle written to `outdir`. */
export const bundleEntry = (outdir: string) => path.join(outdir, "convex-operator.mjs")

/**
 * Bundles the operator from the sources of `root` (default this checkout) into `outdir` (emptied first); returns
 * the entry file. The operator reads its version from `../package.json` beside its module, as from src/ and dist/:
 * put `outdir` one level below a copy of packages/operator/package.json.
 */
export const bundleOperator = async (outdir: string, root: string = repoRoot): Promise<string> => {
  const esbuild = await import("esbuild")
  fs.rmSync(outdir, { recursive: true, force: true })
  await esbuild.build({
    entryPoints: { "convex-operator": path.join(root, "packages/operator/src/main.ts") },
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    conditions: ["@convex-operator/source"],
    outdir,
    chunkNames: "chunks/[name]-[hash]",
    outExtension: { ".js": ".mjs" },
    minify: true,
    keepNames: false,
    // CommonJS dependencies call require(); give each ES module one.
    banner: {
      js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);'
    },
    logLevel: "warning",
    plugins: [kubeConfigOnly]
  })
  const entry = bundleEntry(outdir)
  fs.chmodSync(entry, 0o755)
  return entry
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outdir = process.argv[2]
  if (outdir === undefined) {
    console.error("usage: tsx scripts/bundle-operator.ts <outdir>")
    process.exit(2)
  }
  console.log(await bundleOperator(path.resolve(outdir)))
}
