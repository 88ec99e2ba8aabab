/**
 * The operator image as built by podman from the Dockerfile (test/image/global-setup.ts), checked the way a user
 * would: what it answers (`--version`, `render`, `crd`, the bundled `convex` CLI), who it runs as, and that it holds
 * the app and its production dependencies only. Its size is printed.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { crdFiles } from "@convex-operator/core"
import { describe, expect, inject, it } from "vitest"
import { operatorNodeOptions } from "../../scripts/bundle-operator.js"
import { repoRoot } from "../support/manifests.js"
import { operatorImage } from "./operator-image.js"
import { podmanOk } from "./podman.js"

const { image, id, base, size, addedSize } = inject("operatorImage")
const operatorPackage = JSON.parse(fs.readFileSync(path.join(repoRoot, "packages/operator/package.json"), "utf8")) as {
  version: string
  dependencies: Record<string, string>
}

/** `podman run --rm <flags> <image> <args>`: the image's ENTRYPOINT unless flags name another. */
const run = (args: ReadonlyArray<string>, flags: ReadonlyArray<string> = []) =>
  podmanOk(["run", "--rm", "--network=none", ...flags, image, ...args], { timeoutMillis: 60_000 })
const shell = (script: string) => run(["-c", script], ["--entrypoint=/bin/sh"])

/** The same command from the sources on the host, to compare with. */
const fromSources = async (args: ReadonlyArray<string>) =>
  (
    await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "--conditions=@convex-operator/source", "packages/operator/src/main.ts", ...args],
      { cwd: repoRoot, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }
    )
  ).stdout

describe("the operator image", () => {
  it("is built from the Dockerfile; its size is printed", () => {
    console.log(
      `[image] ${operatorImage} ${id.slice(0, 12)}: ${(size / 1e6).toFixed(0)} MB uncompressed, ` +
        `${(addedSize / 1e6).toFixed(0)} MB above its node base (${base.image}, node ${base.nodeVersion})`
    )
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    expect(addedSize).toBeGreaterThan(0)
  })

  it("runs as the numeric non-root user 65532 with ENTRYPOINT convex-operator and CMD run", async () => {
    const config = JSON.parse(await podmanOk(["image", "inspect", "--format", "{{json .Config}}", image])) as {
      User: string
      Entrypoint: ReadonlyArray<string>
      Cmd: ReadonlyArray<string>
    }
    expect(config.User).toBe("65532:65532")
    expect(config.Entrypoint).toEqual(["convex-operator"])
    expect(config.Cmd).toEqual(["run"])
    expect((await shell("id -u; id -g")).trim().split("\n")).toEqual(["65532", "65532"])
  })

  it("runs the operator's bundle (scripts/bundle-operator.ts) with its Node options", async () => {
    const config = JSON.parse(await podmanOk(["image", "inspect", "--format", "{{json .Config}}", image])) as {
      Env: ReadonlyArray<string>
    }
    expect(config.Env).toContain(`NODE_OPTIONS=${operatorNodeOptions.join(" ")}`)
    expect((await shell("readlink -f $(command -v convex-operator)")).trim()).toBe(
      "/app/packages/operator/bundle/convex-operator.mjs"
    )
    // The S3 steps are a chunk of their own, loaded only by the Job steps that use them.
    expect(await shell("ls /app/packages/operator/bundle/chunks")).toMatch(/^transfer-.*\.mjs$/m)
  })

  it("answers --version with the operator's version, on a read-only root filesystem", async () => {
    expect((await run(["--version"], ["--read-only"])).trim()).toBe(operatorPackage.version)
  })

  it("renders examples/hello-world.yaml as the sources do", async () => {
    const example = path.join(repoRoot, "examples/hello-world.yaml")
    const rendered = await run(
      ["render", "-f", "/in/hello-world.yaml"],
      ["--read-only", `--volume=${example}:/in/hello-world.yaml:ro`]
    )
    expect(rendered).toContain("kind: StatefulSet")
    expect(rendered).toBe(await fromSources(["render", "-f", example]))
  })

  it("prints the committed CRDs", async () => {
    const committed = crdFiles.map((file) =>
      fs.readFileSync(path.join(repoRoot, file.path), "utf8").replace(/^#.*\n/gm, "")
    )
    expect(await run(["crd"], ["--read-only"])).toBe(committed.join(""))
  })

  it("carries the pinned convex CLI", async () => {
    const pinned = operatorPackage.dependencies.convex
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/)
    expect((await run(["/app/node_modules/convex/bin/main.js", "--version"], ["--entrypoint=node"])).trim()).toBe(
      pinned
    )
  })

  it("holds the built app and production dependencies only: no sources, tests, dev tools or compilers", async () => {
    // The build and test tools of the workspace (devDependencies that nothing in production depends on).
    const devTools = [
      "typescript",
      "tsx",
      "vitest",
      "@effect/vitest",
      "@biomejs/biome",
      "@microsoft/api-extractor",
      "esbuild",
      "effect-peer-floor"
    ]
    const listing = await shell(
      [
        "ls -A /app",
        "echo ---",
        "for p in /app/packages/*; do echo $p: $(ls -A $p); done",
        "echo ---",
        `for m in ${devTools.join(" ")}; do test -e /app/node_modules/$m && echo $m; done`,
        "test -e /app/node_modules/convex-operator && echo convex-operator",
        "echo ---",
        "for tool in tsc tsx vitest biome esbuild gcc cc g++ make git; do command -v $tool; done",
        "true"
      ].join("; ")
    )
    const [top = "", packages = "", modules = "", tools = ""] = listing.split("---\n")
    expect(top.trim().split("\n").sort()).toEqual(["node_modules", "package-lock.json", "package.json", "packages"])
    expect(packages.trim().split("\n").sort()).toEqual([
      "/app/packages/core: dist package.json",
      "/app/packages/k8s: dist package.json",
      "/app/packages/operator: bundle dist package.json"
    ])
    expect(modules.trim()).toBe("convex-operator")
    expect(tools.trim()).toBe("")
  })
})
