/**
 * The image's file tree without a container engine: reads the Dockerfile, checks its `build` stage and carries out
 * its `production` stage in a folder (WORKDIR is the folder, `COPY` from the repository as the build context or from
 * the build stage, `RUN` runs in the folder), so a test of the tree tests what the Dockerfile builds.
 * The final stage's ENV PATH, USER, ENTRYPOINT and CMD are returned for the test to check and use.
 */
import { exec } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { repoRoot } from "../support/manifests.js"

export interface Instruction {
  readonly command: string
  readonly args: string
}

/** The Dockerfile's instructions per stage (`FROM … AS name`; the last, unnamed stage is "final"). */
export const dockerfileStages = (text: string): ReadonlyMap<string, ReadonlyArray<Instruction>> => {
  const stages = new Map<string, Array<Instruction>>()
  let current: Array<Instruction> | undefined
  const logical = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
  for (const line of logical) {
    const [, command = "", args = ""] = /^(\S+)\s*(.*)$/.exec(line) ?? []
    if (command.toUpperCase() === "FROM") {
      const name = /\bAS\s+(\S+)$/i.exec(args)?.[1] ?? "final"
      current = []
      stages.set(name, current)
    } else {
      current?.push({ command: command.toUpperCase(), args })
    }
  }
  return stages
}

const chmodFiles = (target: string, mode: number) => {
  for (const entry of fs.readdirSync(target, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) fs.chmodSync(path.join(entry.parentPath, entry.name), mode)
  }
}

export interface ProductionTree {
  /** The production stage's /app. */
  readonly dir: string
  /** The final stage's `ENV PATH=…`, with the image's /app replaced by the tree's folder. */
  readonly path: string
  readonly user: string
  readonly entrypoint: ReadonlyArray<string>
  readonly cmd: ReadonlyArray<string>
}

/**
 * Carries out one stage: WORKDIR must be `workdir` (it becomes `dir`), COPY copies from the build context (the
 * repository) or from another stage's folder (`--from=<stage>`, its WORKDIR mapped to its folder), RUN runs in
 * `dir`. `npm cache clean` is left out (it would clean this machine's npm cache, not an image layer).
 */
const execAsync = promisify(exec)

const runStage = async (
  instructions: ReadonlyArray<Instruction>,
  dir: string,
  workdir: string,
  stageDirs: ReadonlyMap<string, { readonly dir: string; readonly workdir: string }>,
  log: (line: string) => void
) => {
  for (const { command, args } of instructions) {
    if (command === "WORKDIR") {
      if (args !== workdir) throw new Error(`WORKDIR ${args}: expected ${workdir}`)
    } else if (command === "COPY") {
      const parts = args.split(/\s+/)
      const from = parts.find((part) => part.startsWith("--from="))?.slice("--from=".length)
      const paths = parts.filter((part) => !part.startsWith("--"))
      const destination = paths.pop() ?? ""
      const stage = from === undefined ? undefined : stageDirs.get(from)
      if (from !== undefined && stage === undefined) throw new Error(`COPY --from=${from}: no such stage carried out`)
      for (const source of paths) {
        const origin =
          stage === undefined ? path.join(repoRoot, source) : path.join(stage.dir, path.relative(stage.workdir, source))
        const target = destination.endsWith("/")
          ? path.join(dir, destination, path.basename(source))
          : path.join(dir, destination)
        fs.mkdirSync(path.dirname(target), { recursive: true })
        fs.cpSync(origin, target, { recursive: true, verbatimSymlinks: true })
        // Files of a fresh build carry no execute bit; npm ci must set the bin's.
        if (fs.statSync(target).isDirectory()) chmodFiles(target, 0o644)
        else fs.chmodSync(target, 0o644)
      }
    } else if (command === "RUN") {
      for (const step of args.split("&&").map((part) => part.trim())) {
        if (step.startsWith("npm cache clean")) continue
        log(`RUN ${step}`)
        try {
          await execAsync(step, { cwd: dir, encoding: "utf8", timeout: 120_000 })
        } catch (error) {
          const { stdout, stderr } = error as { stdout?: string; stderr?: string }
          throw new Error(`RUN ${step} failed:\n${stdout ?? ""}${stderr ?? ""}`)
        }
      }
    } else if (command !== "ARG") {
      throw new Error(`the stage has ${command}, which this tree builder does not know`)
    }
  }
}

/** The sources of a stage's COPY instructions from the build context. */
const contextSources = (instructions: ReadonlyArray<Instruction>): ReadonlySet<string> =>
  new Set(
    instructions
      .filter(({ command, args }) => command === "COPY" && !args.includes("--from="))
      .flatMap(({ args }) => args.split(/\s+/).slice(0, -1))
  )

/**
 * What `tsc -b packages/operator` reads: each project's tsconfig.json, package.json and src, along its references,
 * and the tsconfigs they extend.
 */
export const buildInputs = (project = "packages/operator"): ReadonlyArray<string> => {
  const inputs = new Set<string>(["package.json", "package-lock.json"])
  const visit = (dir: string) => {
    const config = JSON.parse(fs.readFileSync(path.join(repoRoot, dir, "tsconfig.json"), "utf8")) as {
      extends?: string
      include?: ReadonlyArray<string>
      references?: ReadonlyArray<{ path: string }>
    }
    if (inputs.has(`${dir}/tsconfig.json`)) return
    inputs.add(`${dir}/tsconfig.json`).add(`${dir}/package.json`)
    for (const include of config.include ?? []) inputs.add(`${dir}/${include}`)
    if (config.extends !== undefined) inputs.add(path.normalize(path.join(dir, config.extends)))
    for (const reference of config.references ?? []) visit(path.normalize(path.join(dir, reference.path)))
  }
  visit(project)
  return [...inputs].sort()
}

/**
 * The image's trees, as the Dockerfile builds them, without a container engine:
 * - the `build` stage: its COPY set must hold every input of `tsc -b packages/operator` ({@link buildInputs}), and
 *   its build command (the last RUN) runs in the repository, whose node_modules is `npm ci` of the same lockfile
 *   (carrying out that stage's `npm ci` + clean `tsc -b` in a temporary folder took over 2 minutes here);
 * - the `production` stage (WORKDIR /app) carried out in `<work>/app`, copying the build stage's dist folders
 *   from the repository.
 * Returns the production tree and the final stage's settings.
 */
export const buildProductionTree = async (
  work: string,
  log: (line: string) => void = () => {}
): Promise<ProductionTree> => {
  const stages = dockerfileStages(fs.readFileSync(path.join(repoRoot, "Dockerfile"), "utf8"))
  const build = stages.get("build")
  const production = stages.get("production")
  const final = stages.get("final")
  if (build === undefined || production === undefined || final === undefined) {
    throw new Error("the Dockerfile needs build, production and final stages")
  }
  const copied = contextSources(build)
  const missing = buildInputs().filter((input) => !copied.has(input))
  if (missing.length > 0) throw new Error(`the build stage does not COPY ${missing.join(", ")}`)
  const buildRuns = build.filter((instruction) => instruction.command === "RUN")
  const compile = buildRuns[buildRuns.length - 1]?.args ?? ""
  if (!compile.startsWith("npx tsc -b")) throw new Error(`the build stage's last RUN is not tsc -b: ${compile}`)
  log(`RUN ${compile} (in the repository)`)
  await execAsync(compile, { cwd: repoRoot, encoding: "utf8", timeout: 120_000 })
  const done = new Map([["build", { dir: repoRoot.replace(/\/$/, ""), workdir: "/src" }]])
  const app = path.join(work, "app")
  fs.mkdirSync(app, { recursive: true })
  await runStage(production, app, "/app", done, log)
  const find = (command: string) => final.filter((instruction) => instruction.command === command)
  const env = find("ENV")
    .map((instruction) => instruction.args)
    .join(" ")
  const pathValue = /\bPATH=(\S+)/.exec(env)?.[1] ?? ""
  return {
    dir: app,
    path: pathValue.replaceAll("/app", app).replace("$PATH", process.env.PATH ?? ""),
    user: find("USER")[0]?.args ?? "",
    entrypoint: JSON.parse(find("ENTRYPOINT")[0]?.args ?? "[]") as ReadonlyArray<string>,
    cmd: JSON.parse(find("CMD")[0]?.args ?? "[]") as ReadonlyArray<string>
  }
}
