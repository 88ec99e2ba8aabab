/**
 * The image's file tree without a container engine: reads the Dockerfile and carries out its `production` stage
 * in a folder (WORKDIR is the folder, `COPY` from the build context or `--from=build` copies from the repository
 * after `npm run build`, `RUN` runs in the folder), so a test of the tree tests what the Dockerfile copies.
 * The final stage's ENV PATH, USER, ENTRYPOINT and CMD are returned for the test to check and use.
 */
import { execFileSync, execSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
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
  readonly dir: string
  /** The final stage's `ENV PATH=…`, with the image's /app replaced by the tree's folder. */
  readonly path: string
  readonly user: string
  readonly entrypoint: ReadonlyArray<string>
  readonly cmd: ReadonlyArray<string>
}

/**
 * Builds the `production` stage's tree in `dir` (the Dockerfile's WORKDIR /app). `npm run build` must have run in
 * the repository. `npm cache clean` is left out (it would clean this machine's npm cache, not an image layer).
 */
export const buildProductionTree = (dir: string, log: (line: string) => void = () => {}): ProductionTree => {
  const stages = dockerfileStages(fs.readFileSync(path.join(repoRoot, "Dockerfile"), "utf8"))
  const production = stages.get("production")
  const final = stages.get("final")
  if (production === undefined || final === undefined) throw new Error("the Dockerfile has no production/final stage")
  let workdir = "/app"
  for (const { command, args } of production) {
    if (command === "WORKDIR") {
      workdir = args
    } else if (command === "COPY") {
      const parts = args.split(/\s+/)
      const from = parts.find((part) => part.startsWith("--from="))?.slice("--from=".length)
      const paths = parts.filter((part) => !part.startsWith("--"))
      const destination = paths.pop() ?? ""
      for (const source of paths) {
        // --from=build: the build stage's WORKDIR /src is the repository after `npm run build`.
        const origin =
          from === undefined ? path.join(repoRoot, source) : path.join(repoRoot, path.relative("/src", source))
        const target = destination.endsWith("/")
          ? path.join(dir, destination, path.basename(source))
          : path.join(dir, destination)
        fs.mkdirSync(path.dirname(target), { recursive: true })
        fs.cpSync(origin, target, { recursive: true })
        // Files of a fresh build carry no execute bit; npm ci must set the bin's.
        if (fs.statSync(target).isDirectory()) chmodFiles(target, 0o644)
        else fs.chmodSync(target, 0o644)
      }
    } else if (command === "RUN") {
      for (const step of args.split("&&").map((part) => part.trim())) {
        if (step.startsWith("npm cache clean")) continue
        log(`RUN ${step}`)
        execSync(step, { cwd: dir, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", timeout: 120_000 })
      }
    } else if (command !== "ARG") {
      throw new Error(`the production stage has ${command}, which this tree builder does not know`)
    }
  }
  if (workdir !== "/app") throw new Error(`the production stage's WORKDIR is ${workdir}, expected /app`)
  const find = (command: string) => final.filter((instruction) => instruction.command === command)
  const env = find("ENV")
    .map((instruction) => instruction.args)
    .join(" ")
  const pathValue = /\bPATH=(\S+)/.exec(env)?.[1] ?? ""
  return {
    dir,
    path: pathValue.replaceAll("/app", dir).replace("$PATH", process.env.PATH ?? ""),
    user: find("USER")[0]?.args ?? "",
    entrypoint: JSON.parse(find("ENTRYPOINT")[0]?.args ?? "[]") as ReadonlyArray<string>,
    cmd: JSON.parse(find("CMD")[0]?.args ?? "[]") as ReadonlyArray<string>
  }
}

/** `npm run build` in the repository (tsc -b: incremental). */
export const buildRepository = (): void => {
  execFileSync("npm", ["run", "build"], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 })
}
