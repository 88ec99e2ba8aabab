/**
 * Code blocks in docs that show a file of examples/: a line `<!-- example: examples/library/x.ts -->` followed by a
 * fenced block. `npm run generate` rewrites each such block with the file's current content and the drift test
 * fails when a block differs, so the docs show exactly the programs that test/release compiles and runs.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { pinConvexRelease } from "./convex-release.js"

// The block's content is optional (an empty block, as first written, ends at the next ```).
const marked = /(<!-- example: ([^\s]+) -->\n```(\w*)\n)(?:[\s\S]*?\n)??```/g

/** `text` with every marked block replaced by its file (relative to `root`). */
export const withExamples = (text: string, root: string): string =>
  text.replace(
    marked,
    (_match, opening: string, file: string) =>
      `${opening}${pinConvexRelease(readFileSync(join(root, file), "utf8")).trimEnd()}\n\`\`\``
  )

/** A doc file whose marked blocks are kept in step with examples/ (read from the committed file). */
export const docWithExamples = (root: string, path: string) => ({
  path,
  content: withExamples(readFileSync(join(root, path), "utf8"), root)
})
