/**
 * What the release machinery relies on but cannot run here: the GitHub workflows parse and refer only to scripts,
 * files and npm scripts that exist; the image's base is pinned by digest; `npm run build-installer` renders
 * install.yaml and the chart for a release image; the kind e2e's instance is a valid ConvexInstance; the doc
 * generator keeps example blocks in step.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { decodeConvexInstance } from "@convex-operator/core"
import { leaderElectionRules, operatorRules } from "convex-operator"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { parse, parseAllDocuments } from "yaml"
import { imageParts } from "../../scripts/build-installer.js"
import { withExamples } from "../../scripts/doc-examples.js"
import { dockerfileStages } from "../image/dockerfile.js"
import { repoRoot } from "../support/manifests.js"

interface Step {
  readonly name?: string
  readonly uses?: string
  readonly run?: string
  readonly with?: Record<string, unknown>
}
interface Workflow {
  readonly on: Record<string, unknown>
  readonly permissions?: Record<string, string>
  readonly jobs: Record<string, { readonly "runs-on": string; readonly steps: ReadonlyArray<Step> }>
}

const workflow = (file: string): Workflow =>
  parse(fs.readFileSync(path.join(repoRoot, ".github/workflows", file), "utf8")) as Workflow
const steps = (flow: Workflow) => Object.values(flow.jobs).flatMap((job) => job.steps)
const scripts = (
  JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> }
).scripts

/** Every `npm run X` and every repository file a shell step names (bash/node/tsx <file>) must exist. */
const checkRunSteps = (flow: Workflow) => {
  for (const step of steps(flow)) {
    if (step.run === undefined) continue
    for (const [, script] of step.run.matchAll(/npm run ([\w:-]+)/g)) expect(scripts, step.run).toHaveProperty(script!)
    for (const [, file] of step.run.matchAll(/(?:bash|node|tsx) ((?:\.|[\w-]+)\/[\w./-]+)/g)) {
      expect(fs.existsSync(path.join(repoRoot, file!)), `${file} named by: ${step.run}`).toBe(true)
    }
  }
  for (const step of steps(flow)) {
    if (step.uses !== undefined) expect(step.uses, "actions are pinned to a version").toMatch(/^[\w-]+\/[\w-]+@v\d+$/)
  }
}

describe("GitHub workflows", () => {
  it("every workflow parses, has jobs with steps, and names only existing scripts and files", () => {
    const files = fs.readdirSync(path.join(repoRoot, ".github/workflows"))
    expect(files.sort()).toEqual(["ci.yml", "e2e-kind.yml", "release.yml"])
    for (const file of files) {
      const flow = workflow(file)
      expect(Object.keys(flow.jobs).length, file).toBeGreaterThan(0)
      checkRunSteps(flow)
    }
  })

  it("ci runs .ci/run, as a clean clone does", () => {
    const flow = workflow("ci.yml")
    expect(Object.keys(flow.on)).toEqual(expect.arrayContaining(["push", "pull_request"]))
    expect(steps(flow).map((step) => step.run)).toContain('sudo env "PATH=$PATH" "HOME=$HOME" bash .ci/run')
    expect(fs.existsSync(path.join(repoRoot, ".ci/run"))).toBe(true)
  })

  it("release: on v* tags, pushes a linux/amd64+arm64 image to ghcr.io, renders install.yaml and the chart for it, attaches them", () => {
    const flow = workflow("release.yml")
    expect((flow.on.push as { tags: ReadonlyArray<string> }).tags).toEqual(["v*"])
    expect(flow.permissions).toMatchObject({ contents: "write", packages: "write" })
    const all = steps(flow)
    const build = all.find((step) => step.uses?.startsWith("docker/build-push-action@"))
    expect(build?.with).toMatchObject({ context: ".", file: "Dockerfile", push: true })
    expect(String(build?.with?.platforms).split(",").sort()).toEqual(["linux/amd64", "linux/arm64"])
    expect(String(build?.with?.tags)).toContain(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, not a template
      "${{ steps.version.outputs.image }}:${{ steps.version.outputs.version }}"
    )
    expect(all.some((step) => step.uses?.startsWith("docker/setup-buildx-action@"))).toBe(true)
    expect(all.some((step) => step.uses?.startsWith("docker/login-action@"))).toBe(true)
    const runs = all.map((step) => step.run ?? "").join("\n")
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
    expect(runs).toContain('echo "image=ghcr.io/${GITHUB_REPOSITORY,,}" >> "$GITHUB_OUTPUT"')
    expect(runs).toMatch(/npm run build-installer -- \\\n\s+--image "[^"]*@\$\{\{ steps\.image\.outputs\.digest \}\}"/)
    expect(runs).toContain("--output out/install.yaml --chart out/chart")
    expect(runs).toContain("helm package out/chart")
    expect(runs).toMatch(/gh release create[\s\S]*out\/install\.yaml/)
  })

  it("e2e-kind runs npm run test:kind, whose script is test/e2e-kind/run.ts", () => {
    const flow = workflow("e2e-kind.yml")
    expect(steps(flow).map((step) => step.run)).toContain("npm run test:kind")
    expect(scripts["test:kind"]).toContain("test/e2e-kind/run.ts")
    expect(scripts.test).not.toContain("test:kind")
  })
})

describe("release inputs", () => {
  it("the Dockerfile's base image is pinned by digest in every stage", () => {
    const text = fs.readFileSync(path.join(repoRoot, "Dockerfile"), "utf8")
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1]
    expect(base).toMatch(/^node:[\w.-]+@sha256:[0-9a-f]{64}$/)
    const froms = text.split("\n").filter((line) => line.startsWith("FROM "))
    expect(froms.length).toBe(dockerfileStages(text).size)
    for (const line of froms) expect(line).toMatch(/^FROM \$\{NODE_IMAGE\}( AS \w+)?$/)
  })

  it("build-installer --image X --chart dir: install.yaml runs X, the chart's values name X (comments kept)", async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-installer-"))
    try {
      const image = `ghcr.io/acme/convex-operator:9.9.9@sha256:${"ab".repeat(32)}`
      await promisify(execFile)(
        process.execPath,
        [
          "--import",
          "tsx",
          "--conditions=@convex-operator/source",
          "scripts/build-installer.ts",
          "--image",
          image,
          "--output",
          path.join(work, "install.yaml"),
          "--chart",
          path.join(work, "chart")
        ],
        { cwd: repoRoot, timeout: 60_000 }
      )
      const objects = parseAllDocuments(fs.readFileSync(path.join(work, "install.yaml"), "utf8")).map(
        (doc) => doc.toJS() as { kind: string; spec?: { template?: { spec?: { containers?: [{ image: string }] } } } }
      )
      expect(objects.find((object) => object.kind === "Deployment")?.spec?.template?.spec?.containers?.[0].image).toBe(
        image
      )
      const values = fs.readFileSync(path.join(work, "chart/values.yaml"), "utf8")
      expect((parse(values) as { image: unknown }).image).toMatchObject({
        repository: "ghcr.io/acme/convex-operator",
        tag: "9.9.9",
        digest: `sha256:${"ab".repeat(32)}`
      })
      expect(values).toContain("# Set to pin by digest")
      for (const file of ["Chart.yaml", "templates/deployment.yaml", "crds/convexinstances.convex.icod.de.yaml"]) {
        expect(fs.existsSync(path.join(work, "chart", file)), file).toBe(true)
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true })
    }
  })

  it("imageParts splits registry ports, tags and digests", () => {
    expect(imageParts("localhost:5000/op:1.2.3")).toEqual({ repository: "localhost:5000/op", tag: "1.2.3", digest: "" })
    expect(imageParts("localhost:5000/op")).toEqual({ repository: "localhost:5000/op", tag: "", digest: "" })
    expect(imageParts("op@sha256:00")).toEqual({ repository: "op", tag: "", digest: "sha256:00" })
  })

  it("the kind e2e's instance decodes as a ConvexInstance and pins real SHA tags", () => {
    const object = parse(fs.readFileSync(path.join(repoRoot, "test/e2e-kind/instance.yaml"), "utf8"))
    const decoded = decodeConvexInstance(object)
    expect(Either.isRight(decoded), Either.isLeft(decoded) ? decoded.left.message : "").toBe(true)
    expect((object as { spec: { version: string } }).spec.version).toMatch(/^[0-9a-f]{40}$/)
  })

  it("docs/security.md's RBAC table lists every resource and verb the operator's rules grant", () => {
    const rows = fs
      .readFileSync(path.join(repoRoot, "docs/security.md"), "utf8")
      .split("\n")
      .filter((line) => line.startsWith("| `"))
      .map((line) => line.split("|").map((cell) => cell.trim()))
    for (const rule of [...operatorRules(), ...leaderElectionRules()]) {
      const group = `\`${rule.apiGroups[0] === "" ? '""' : rule.apiGroups[0]}\``
      for (const resource of rule.resources) {
        const row = rows.find(
          ([, cellGroup, resources]) => cellGroup === group && resources?.split(/,\s*|\s+/).includes(resource)
        )
        expect(row, `${group} ${resource}`).toBeDefined()
        const verbs = row?.[3] === "same" ? rows.find(([, g]) => g === '`""`')?.[3] : row?.[3]
        for (const verb of rule.verbs) expect(verbs?.split(/,\s*/), `${group} ${resource} ${verb}`).toContain(verb)
      }
    }
  })

  it("withExamples fills empty and stale example blocks and leaves the rest of the page alone", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "convex-operator-doc-"))
    fs.writeFileSync(path.join(root, "a.ts"), "const a = 1\n")
    const page =
      "intro\n<!-- example: a.ts -->\n```ts\n```\n\nbetween\n\n```text\nout\n```\n<!-- example: a.ts -->\n```ts\nold\n```\nend\n"
    const filled =
      "intro\n<!-- example: a.ts -->\n```ts\nconst a = 1\n```\n\nbetween\n\n```text\nout\n```\n<!-- example: a.ts -->\n```ts\nconst a = 1\n```\nend\n"
    expect(withExamples(page, root)).toBe(filled)
    expect(withExamples(filled, root)).toBe(filled)
    fs.rmSync(root, { recursive: true, force: true })
  })
})
