/** The Dockerfile read as stages of instructions (for checks of its structure; the image tier builds it for real). */

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
