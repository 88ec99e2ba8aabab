/** `npm run generate`: writes every generated file (see generated-files.ts) relative to the repository root. */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { generatedFiles } from "./generated-files.js"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")

for (const file of generatedFiles()) {
  const target = join(root, file.path)
  let current: string | undefined
  try {
    current = readFileSync(target, "utf8")
  } catch {
    current = undefined
  }
  if (current === file.content) {
    console.log(`unchanged ${file.path}`)
    continue
  }
  mkdirSync(dirname(target), { recursive: true })
  writeFileSync(target, file.content)
  console.log(`wrote     ${file.path}`)
}
