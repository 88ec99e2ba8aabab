/**
 * The libraries as a user gets them: `npm pack` of @convex-operator/core and @convex-operator/k8s, the tarballs
 * installed into a scratch project in a temporary folder with `npm ci --offline` (every dependency comes from the npm
 * cache that the repository's own `npm ci` filled, pinned by a lockfile derived from the repository's: see
 * scratch-lockfile.ts; this passes from an empty npm cache), the programs of examples/library type-checked there against the packed `.d.ts` files with the
 * TypeScript of this repository, compiled, and run with node against the packed JavaScript.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { build } from "esbuild"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { repoRoot } from "../support/manifests.js"
import { runInBrowserLikeContext } from "./browser-context.js"
import { type Lockfile, scratchLockfile } from "./scratch-lockfile.js"

const run = promisify(execFile)
const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-pack-"))
const app = path.join(work, "app")
const examples = path.join(repoRoot, "examples/library")
const timings: Array<string> = []

// biome-ignore lint/suspicious/noExplicitAny: npm's JSON output, checked by the assertions
type Json = Record<string, any>

interface Packed {
  readonly name: string
  readonly filename: string
  readonly version: string
  readonly integrity: string
  readonly size: number
  readonly unpackedSize: number
  readonly files: ReadonlyArray<{ readonly path: string }>
}
let packed: ReadonlyArray<Packed> = []

const timed = async <A>(name: string, body: () => Promise<A>): Promise<A> => {
  const started = Date.now()
  const result = await body()
  timings.push(`${name}: ${((Date.now() - started) / 1000).toFixed(1)}s`)
  return result
}

const sh = async (file: string, args: ReadonlyArray<string>, cwd: string) => {
  try {
    return (await run(file, [...args], { cwd, encoding: "utf8", timeout: 120_000 })).stdout
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string }
    throw new Error(`${file} ${args.join(" ")} failed in ${cwd}:\n${stdout ?? ""}${stderr ?? ""}`)
  }
}

beforeAll(async () => {
  const tsc = path.join(repoRoot, "node_modules/typescript/bin/tsc")
  await timed("tsc -b", () => sh(process.execPath, [tsc, "-b", "packages/core", "packages/k8s"], repoRoot))
  const json = await timed("npm pack", () =>
    sh(
      "npm",
      ["pack", "--json", "--pack-destination", work, "--workspace", "packages/core", "--workspace", "packages/k8s"],
      repoRoot
    )
  )
  packed = JSON.parse(json) as ReadonlyArray<Packed>
  fs.mkdirSync(path.join(app, "src"), { recursive: true })
  const rootLock = JSON.parse(fs.readFileSync(path.join(repoRoot, "package-lock.json"), "utf8")) as Lockfile
  const { lockfile, dependencies } = scratchLockfile(
    rootLock,
    packed.map((pkg) => ({
      name: pkg.name,
      version: pkg.version,
      file: path.relative(app, path.join(work, pkg.filename)),
      integrity: pkg.integrity
    })),
    // effect at the floor of the libraries' peer range (3.22.0; the workspace runs 3.22.4), from the root lockfile's
    // alias `effect-peer-floor`: the app's one copy must serve both libraries.
    { effect: "node_modules/effect-peer-floor", "@types/node": "node_modules/@types/node" },
    (await sh("npm", ["config", "get", "registry"], repoRoot)).trim()
  )
  fs.writeFileSync(
    path.join(app, "package.json"),
    JSON.stringify({ name: "scratch", private: true, type: "module", dependencies })
  )
  fs.writeFileSync(path.join(app, "package-lock.json"), JSON.stringify(lockfile, null, 2))
  fs.writeFileSync(
    path.join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        skipLibCheck: true,
        types: ["node"],
        rootDir: "src",
        outDir: "dist"
      },
      include: ["src"]
    })
  )
  for (const file of fs.readdirSync(examples)) fs.copyFileSync(path.join(examples, file), path.join(app, "src", file))
  await timed("npm ci --offline", () =>
    sh("npm", ["ci", "--offline", "--no-audit", "--no-fund", "--ignore-scripts"], app)
  )
  await timed("tsc (scratch)", () => sh(process.execPath, [tsc, "-p", "."], app))
}, 150_000)

afterAll(() => {
  const sizes = packed.map((pkg) => `${pkg.name} ${(pkg.size / 1024).toFixed(0)} KiB (${pkg.files.length} files)`)
  console.log(`[pack] ${[...sizes, ...timings].join(", ")}`)
  fs.rmSync(work, { recursive: true, force: true })
})

/** The `exports` targets of a package.json, by condition. */
const exportTargets = (manifest: { exports: Record<string, Record<string, string>> }) =>
  Object.values(manifest.exports).flatMap((conditions) => Object.entries(conditions))

describe("npm pack of the libraries", () => {
  it("each tarball holds built ESM with declarations, its exports map resolves into dist, and no build or test leftovers", () => {
    expect(packed.map((pkg) => pkg.name).sort()).toEqual(["@convex-operator/core", "@convex-operator/k8s"])
    for (const pkg of packed) {
      const files = new Set(pkg.files.map((file) => file.path))
      for (const file of ["package.json", "README.md", "dist/index.js", "dist/index.d.ts"])
        expect(files, pkg.name).toContain(file)
      expect(
        [...files].filter((file) => /tsbuildinfo|(^|\/)test\/|\.test\./.test(file)),
        pkg.name
      ).toEqual([])
      const manifest = JSON.parse(
        fs.readFileSync(path.join(app, "node_modules", pkg.name, "package.json"), "utf8")
      ) as { type: string; main: string; types: string; exports: Record<string, Record<string, string>> }
      expect(manifest.type).toBe("module")
      for (const [condition, target] of exportTargets(manifest)) {
        // The sources' condition is this project's own name, so no consumer's toolchain selects it by accident.
        if (condition === "@convex-operator/source") continue
        expect(["types", "default", "import"], `${pkg.name} exports condition ${condition}`).toContain(condition)
        expect(target, `${pkg.name} ${condition}`).toMatch(/^\.\/dist\//)
        expect(files, `${pkg.name} ${condition}`).toContain(target.slice(2))
      }
      for (const target of [manifest.main, manifest.types]) expect(files).toContain(target.slice(2))
      // Every source map (and declaration map) points at sources the tarball carries, so "go to definition" and
      // stack traces land in real files.
      const maps = [...files].filter((file) => file.endsWith(".map"))
      expect(maps.length, `${pkg.name} ships source maps`).toBeGreaterThan(0)
      const dangling = maps.flatMap((map) => {
        const { sources } = JSON.parse(fs.readFileSync(path.join(app, "node_modules", pkg.name, map), "utf8")) as {
          sources: ReadonlyArray<string>
        }
        return sources
          .map((source) => path.posix.normalize(path.posix.join(path.posix.dirname(map), source)))
          .filter((source) => !files.has(source))
          .map((source) => `${map} → ${source}`)
      })
      expect(dangling, pkg.name).toEqual([])
    }
  })

  it("effect is a peer of both libraries: the app's own effect (another patch) is the only copy installed", async () => {
    for (const pkg of packed) {
      const manifest = JSON.parse(
        fs.readFileSync(path.join(app, "node_modules", pkg.name, "package.json"), "utf8")
      ) as { dependencies?: Record<string, string>; peerDependencies?: Record<string, string> }
      expect(manifest.dependencies?.effect, `${pkg.name} must not bring its own effect`).toBeUndefined()
      expect(manifest.peerDependencies?.effect, pkg.name).toBe("^3.22.0")
    }
    const tree = JSON.parse(await sh("npm", ["ls", "effect", "--all", "--json"], app)) as Json
    const versions = new Set<string>()
    const walk = (node: Json) => {
      for (const [name, child] of Object.entries<Json>(node.dependencies ?? {})) {
        if (name === "effect") versions.add(child.version)
        walk(child)
      }
    }
    walk(tree)
    expect([...versions]).toEqual(["3.22.0"])
    const copies = fs
      .readdirSync(app, { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(path.join("node_modules", "effect", "package.json")))
    expect(copies).toEqual([path.join("node_modules", "effect", "package.json")])
  })

  it("examples/library type-check against the packed declarations and run against the packed JavaScript", async () => {
    const output = async (name: string) =>
      timed(`node ${name}`, () => sh(process.execPath, [path.join("dist", `${name}.js`)], app))
    const decided = await output("decide-instance")
    expect(decided).toMatch(
      /^storage: sqlite, restart every 168h\nrejected: spec\.environment\n(apply \w+ hello-[\w-]+\n)+phase: Pending\n$/
    )
    // docs/library.md shows this output; it must stay what the program prints.
    const library = fs.readFileSync(path.join(repoRoot, "docs/library.md"), "utf8")
    expect(/It prints:\n\n```text\n([\s\S]*?)```/.exec(library)?.[1]).toBe(decided)
    for (const kind of ["ConfigMap", "Secret", "Service", "StatefulSet"])
      expect(decided).toContain(`apply ${kind} hello-`)
    expect(await output("admin-key")).toBe(
      "key for: hello\nverifies for hello: true\nverifies for other: false\nread-only: true\n"
    )
    expect(await output("controller")).toBe("reply: hi back\nowned by: hello\n")
    const rendered = await output("render-instance")
    const printed = library.slice(library.indexOf("<!-- example: examples/library/render-instance.ts -->"))
    expect(/It prints:\n\n```text\n([\s\S]*?)```/.exec(printed)?.[1]).toBe(rendered)
    for (const line of [
      "Secret hello-convex-secrets",
      "StatefulSet hello-backend",
      "crd convexinstances.convex.icod.de"
    ])
      expect(rendered).toContain(`${line}\n`)
    expect(rendered).toMatch(/restartInterval: \d+h\n$/)
    // The scratch project resolved the libraries from the tarballs, not from this workspace.
    expect(fs.lstatSync(path.join(app, "node_modules/@convex-operator/core")).isSymbolicLink()).toBe(false)
  })

  it("convex-admin-key (examples/library) issues and verifies keys from a file or a Kubernetes Secret's JSON", async () => {
    const tool = path.join("dist", "convex-admin-key.js")
    const run = (args: ReadonlyArray<string>) =>
      promisify(execFile)(process.execPath, [tool, ...args], { cwd: app, encoding: "utf8" }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (error: { code: number; stdout: string; stderr: string }) => error
      )
    const instanceSecret = "4361726e697461732c206c69746572616c6c79206d65616e696e6720226c6974"
    fs.writeFileSync(path.join(app, "secret.hex"), `${instanceSecret}\n`)
    const issued = await run(["issue", "--instance", "hello", "--secret", "secret.hex", "--read-only"])
    expect(issued.code).toBe(0)
    const key = issued.stdout.trim()
    expect(key).toMatch(/^hello\|01[0-9a-f]+$/)
    // The library's own check agrees with the tool.
    const { verifyAdminKey } = await import("@convex-operator/core")
    expect(verifyAdminKey(key, "hello", instanceSecret)).toBe(true)
    fs.writeFileSync(path.join(app, "key.txt"), key)
    const accepted = await run(["verify", "--instance", "hello", "--secret", "secret.hex", "--key", "key.txt"])
    expect(accepted).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^accepted: read-only admin key for instance hello, issued \d{4}-/)
    })
    const other = await run(["verify", "--instance", "other", "--secret", "secret.hex", "--key", "key.txt"])
    expect(other.code).toBe(1)
    expect(other.stderr).toContain('the admin key is for instance "hello", not for instance "other"')
    // A Secret as `kubectl get secret -o json` prints it: the tool checks the Secret's own admin key.
    const b64 = (text: string) => Buffer.from(text).toString("base64")
    const secretJson = (adminKey: string) =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "Secret",
        data: { "instance-secret": b64(instanceSecret), "admin-key": b64(adminKey) }
      })
    fs.writeFileSync(path.join(app, "secret.json"), secretJson(key))
    expect((await run(["verify", "--instance", "hello", "--secret", "secret.json"])).code).toBe(0)
    const tampered = `${key.slice(0, -2)}${key.endsWith("00") ? "11" : "00"}`
    fs.writeFileSync(path.join(app, "secret.json"), secretJson(tampered))
    const refused = await run(["verify", "--instance", "hello", "--secret", "secret.json"])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain("was not issued with this instance secret")
    // Nothing secret is echoed: neither the instance secret nor a key it did not issue.
    for (const output of [accepted, other, refused]) {
      expect(`${output.stdout}${output.stderr}`).not.toContain(instanceSecret)
      expect(`${output.stdout}${output.stderr}`).not.toContain(key.split("|")[1])
    }
    expect((await run(["verify", "--secret", "secret.hex"])).code).toBe(2)
  })

  it("the packed core bundles for the browser with no Node built-in and issues and checks Convex's admin keys there", async () => {
    // The packed core as an app's bundler resolves it: the root, and from the internal entry the content hash that
    // pod-template annotations carry.
    const entry = [
      'export * from "@convex-operator/core"',
      'export { contentHash } from "@convex-operator/core/internal"'
    ].join("\n")
    // platform "browser": a `node:` import or a Node built-in cannot be resolved and fails the build.
    const bundled = await timed("esbuild (browser)", () =>
      build({
        stdin: { contents: entry, resolveDir: app, loader: "js" },
        bundle: true,
        platform: "browser",
        format: "iife",
        globalName: "convexOperatorCore",
        write: false,
        metafile: true,
        logLevel: "silent"
      })
    )
    const inputs = Object.keys(bundled.metafile.inputs)
    expect(inputs.filter((input) => /^node:|\(disabled\)/.test(input))).toEqual([])
    const globals = runInBrowserLikeContext(bundled.outputFiles[0]?.text ?? "")
    expect(typeOfGlobal(globals, "process")).toBe("undefined")
    expect(typeOfGlobal(globals, "Buffer")).toBe("undefined")
    const core = globals.convexOperatorCore as typeof import("@convex-operator/core") &
      Pick<typeof import("@convex-operator/core/internal"), "contentHash">
    // The vectors of packages/core/test/convex/admin-key.test.ts (checked against keys Convex itself issued).
    const secret = "4361726e697461732c206c69746572616c6c79206d65616e696e6720226c6974"
    const issued = core.issueAdminKey({
      instanceName: "carnitas",
      instanceSecret: secret,
      issuedAt: 1700000000,
      nonce: new Uint8Array(12)
    })
    expect(issued._tag === "Right" ? issued.right : issued).toBe(
      "carnitas|01000000000000000000000000193c1d1d0ffdb38a78c50cfd2c3a4f7b118dbc819ff70f5f"
    )
    const convexIssued =
      "anonymous-coderouter|01a40410e2fed0907f9c63f1c290c49290734c176d95450a731d5b542ac0ffec3e16d58bde9d16"
    expect(core.verifyAdminKey(convexIssued, "anonymous-coderouter", secret)).toBe(true)
    expect(core.verifyAdminKey(convexIssued, "anonymous-coderouter", "00".repeat(32))).toBe(false)
    // The content hash (pod-template annotations) is the same SHA-256 as under Node.
    const { contentHash } = await import("@convex-operator/core/internal")
    expect(core.contentHash({ b: 1, a: [2] })).toBe(contentHash({ a: [2], b: 1 }))
  })
})

/** `typeof name` evaluated inside the context whose globals are `globals`. */
const typeOfGlobal = (globals: Record<string, unknown>, name: string): string => typeof globals[name]
