/**
 * Reads the `.env` lines `convex env list --include-values` prints. The CLI writes `NAME=value`, quoting a value
 * in single quotes (verbatim, may span lines) or double quotes (`\n` escapes) when it has newlines, surrounding
 * quotes, `#` or form feeds; see its `formatEnvValueForDotfile`. Other lines (warnings) are not variables.
 *
 * @module
 */

/** One variable of the deployment. */
export interface EnvVariable {
  readonly name: string
  readonly value: string
}

const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/

/** Parses `env list --include-values` output, in order. */
export const parseEnvList = (text: string): ReadonlyArray<EnvVariable> => {
  const lines = text.split("\n")
  const out: Array<EnvVariable> = []
  for (let i = 0; i < lines.length; i++) {
    const match = assignment.exec(lines[i] ?? "")
    if (match === null) continue
    const name = match[1] ?? ""
    let rest = match[2] ?? ""
    const quote = rest[0]
    if (quote === "'" || quote === '"') {
      // Collect lines until the closing quote ends a line.
      while (!(rest.length > 1 && rest.endsWith(quote)) && i + 1 < lines.length) {
        i++
        rest += `\n${lines[i] ?? ""}`
      }
      const inner = rest.slice(1, rest.endsWith(quote) && rest.length > 1 ? -1 : undefined)
      out.push({ name, value: quote === '"' ? inner.replaceAll("\\n", "\n") : inner })
    } else {
      out.push({ name, value: rest })
    }
  }
  return out
}
