/**
 * `--help` as kubectl prints it. @effect/cli's own help lists each subcommand with its whole usage (one very wide
 * line per command) and gives every option lines of its own ("A user-defined piece of text.", "This setting is
 * optional."). This module renders the same help documents from the command tree with those lines left out,
 * subcommands listed one line each (name and the first paragraph of their description), and the default of an
 * option kept as "Default: …". A command's description holds its example (`described`): @effect/cli has no API for
 * examples.
 *
 * @module
 */
import { CliConfig, CommandDescriptor as Descriptor, HelpDoc, type Span, Usage } from "@effect/cli"

type Node = Descriptor.Command<unknown>

/** A command's description: a one-line summary (what listings show), then examples, each a command line. */
export const described = (summary: string, ...examples: ReadonlyArray<string>): HelpDoc.HelpDoc =>
  HelpDoc.blocks([
    HelpDoc.p(summary),
    ...(examples.length === 0
      ? []
      : [
          HelpDoc.p(
            [examples.length === 1 ? "Example:" : "Examples:", ...examples.map((line) => `  ${line}`)].join("\n")
          )
        ])
  ])

/** The text of a span, without styles. */
export const spanText = (span: Span.Span): string => {
  switch (span._tag) {
    case "Text":
    case "URI":
      return span.value
    case "Sequence":
      return spanText(span.left) + spanText(span.right)
    default:
      return spanText(span.value)
  }
}

/** A help document as its blocks in order (sequences flattened). */
const blocksOf = (doc: HelpDoc.HelpDoc): Array<HelpDoc.HelpDoc> =>
  doc._tag === "Sequence" ? [...blocksOf(doc.left), ...blocksOf(doc.right)] : doc._tag === "Empty" ? [] : [doc]

/**
 * Lines @effect/cli adds to every option and argument: the type of its value, "optional", "can be set from
 * environment variables" (the descriptions name their variables).
 */
const libraryLines = [
  /^A user-defined piece of text/,
  /^A true or false value\.$/,
  /^An integer\.$/,
  /^A floating point number\.$/,
  /^One of the following: /,
  /^A date/,
  /^An? (existing )?(file|directory|file or directory)( that must not exist)?\.$/,
  /^This setting is optional\.$/,
  /^This option can be set from environment variables\.$/
]

/** Whether a paragraph is one of @effect/cli's generic lines rather than our own description. */
export const isLibraryLine = (text: string): boolean => libraryLines.some((line) => line.test(text))

/** An option's or argument's block without the generic lines; "Defaults to: x" becomes "Default: x". */
const ownBlock = (block: HelpDoc.HelpDoc): HelpDoc.HelpDoc =>
  HelpDoc.blocks(
    blocksOf(block).flatMap((doc) => {
      if (doc._tag !== "Paragraph") return [doc]
      const text = spanText(doc.value)
      const fallback = /^This setting is optional\. Defaults to: (.*)$/s.exec(text)
      if (fallback !== null) return [HelpDoc.p(`Default: ${fallback[1]}`)]
      return isLibraryLine(text) ? [] : [doc]
    })
  )

const config = CliConfig.make({ showBuiltIns: false })

/** The help document @effect/cli builds for a command (without the built-in options). */
export const libraryHelp = (node: Node): HelpDoc.HelpDoc => Descriptor.getHelp(node, config)

/** The options and arguments of a command: their names (`--flag`, aliases, `<arg>`) and help blocks. */
export const parameters = (
  node: Node
): ReadonlyArray<{ readonly names: ReadonlyArray<string>; readonly help: HelpDoc.HelpDoc }> =>
  blocksOf(libraryHelp(node)).flatMap((doc) =>
    doc._tag === "DescriptionList"
      ? doc.definitions.map(([span, help]) => ({ names: spanText(span).match(/--?[\w-]+|<[\w-]+>/g) ?? [], help }))
      : []
  )

/**
 * The shape of a command descriptor as @effect/cli 0.77 builds it (internal/commandDescriptor.ts): a command with
 * subcommands is a `Subcommands` node holding the parent command and the children as they were built (a child
 * group is a `Subcommands` node itself). The public `getSubcommands` gives a child group's parent only, without
 * its children, so the tree is read from the nodes.
 */
type Shape =
  | { readonly _tag: "Standard" | "GetUserInput" }
  | { readonly _tag: "Map"; readonly command: Node }
  | { readonly _tag: "Subcommands"; readonly parent: Node; readonly children: ReadonlyArray<Node> }

const shapeOf = (node: Node): Shape => {
  const shape = node as unknown as Shape
  if (!["Standard", "GetUserInput", "Map", "Subcommands"].includes(shape._tag)) {
    throw new Error(`help: unknown @effect/cli command node ${String(shape._tag)}`)
  }
  return shape
}

/** A command's name. */
export const nameOf = (node: Node): string => [...Descriptor.getNames(node)][0] ?? ""

/** The direct subcommands of a command, by name, sorted (as kubectl lists them). */
export const subcommands = (node: Node): ReadonlyArray<readonly [string, Node]> => {
  const shape = shapeOf(node)
  if (shape._tag === "Map") return subcommands(shape.command)
  if (shape._tag !== "Subcommands") return []
  return shape.children.map((child) => [nameOf(child), child] as const).sort(([a], [b]) => a.localeCompare(b))
}

/** The paragraphs of a command's DESCRIPTION section. */
const descriptionOf = (node: Node): ReadonlyArray<HelpDoc.HelpDoc> => {
  const blocks = blocksOf(libraryHelp(node))
  const start = blocks.findIndex((doc) => doc._tag === "Header" && spanText(doc.value) === "DESCRIPTION")
  if (start < 0) return []
  const end = blocks.findIndex((doc, index) => index > start && doc._tag === "Header")
  return blocks.slice(start + 1, end < 0 ? undefined : end)
}

/** A command's one-line summary: the first paragraph of its description. */
export const summaryOf = (node: Node): string => {
  const first = descriptionOf(node).find((doc) => doc._tag === "Paragraph")
  return first === undefined || first._tag !== "Paragraph" ? "" : spanText(first.value)
}

/** The command that `args` name (subcommand names, in order, among options), with its path. */
export const resolveCommand = (
  root: Node,
  args: ReadonlyArray<string>
): { readonly path: ReadonlyArray<string>; readonly node: Node } => {
  let node = root
  const path: Array<string> = []
  for (const arg of args) {
    const child = subcommands(node).find(([name]) => name === arg)
    if (child === undefined) continue
    path.push(child[0])
    node = child[1]
  }
  return { path, node }
}

/** Whether `args` ask for help (as @effect/cli's built-in `--help`, `-h`). */
export const asksForHelp = (args: ReadonlyArray<string>): boolean => args.includes("--help") || args.includes("-h")

/** The help text of the command at `path` under `root` (plain text, no colours). */
export const helpText = (root: Node, program: string, path: ReadonlyArray<string>): string => {
  const { node } = resolveCommand(root, path)
  const children = subcommands(node)
  const command = [program, ...path].join(" ")
  const usage =
    children.length > 0
      ? `${command} <command> [options]`
      : `${[program, ...path.slice(0, -1)].join(" ")} ${spanText(HelpDoc.getSpan(Usage.getHelp(Descriptor.getUsage(node))))}`
  const sections: Array<HelpDoc.HelpDoc> = [...descriptionOf(node), HelpDoc.h1("USAGE"), HelpDoc.p(`  ${usage}`)]
  // The ARGUMENTS and OPTIONS sections of @effect/cli's document, without its generic lines; not COMMANDS.
  const blocks = blocksOf(libraryHelp(node))
  let inParameters = false
  for (const doc of blocks) {
    if (doc._tag === "Header") {
      const title = spanText(doc.value)
      inParameters = title === "ARGUMENTS" || title === "OPTIONS"
      if (inParameters) sections.push(doc)
    } else if (inParameters && doc._tag === "DescriptionList") {
      const [first, ...rest] = doc.definitions.map(
        ([span, block]) => [span, ownBlock(block)] as [Span.Span, HelpDoc.HelpDoc]
      )
      if (first !== undefined) sections.push(HelpDoc.descriptionList([first, ...rest]))
    }
  }
  if (children.length > 0) {
    const width = Math.max(...children.map(([name]) => name.length))
    sections.push(
      HelpDoc.h1("COMMANDS"),
      HelpDoc.p(children.map(([name, child]) => `  ${name.padEnd(width)}   ${summaryOf(child)}`).join("\n")),
      HelpDoc.p(`Use "${command} <command> --help" for more about a command.`)
    )
  }
  return plain(HelpDoc.toAnsiText(HelpDoc.blocks(sections))).trimEnd()
}

/** Text without ANSI styles. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences start with ESC.
export const plain = (text: string): string => text.replace(/\u001b\[[0-9;]*m/g, "")
