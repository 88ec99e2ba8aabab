/**
 * docs/api-reference.md, generated from the CRDs, which are generated from the Effect Schema (packages/core/src/api):
 * every field path with its type, whether it is required, its default, its documentation (the Schema's `doc`
 * annotations) and its validation (enum, pattern, bounds, list/map semantics, CEL rules with their messages).
 * `npm run generate` writes it; the drift test fails when the Schema changes and the page does not.
 *
 * Another kind: list its CRD in `crds` (packages/core/src/api/crds.ts) and run `npm run generate`; the page documents
 * every CRD of that list, in its order. {@link apiReference} takes any CRD definitions, so a tool may document others.
 */
import type { OpenApiSchema, PrinterColumn } from "@convex-operator/core"

/** What the reference reads of a CustomResourceDefinition (`apiextensions.k8s.io/v1`). */
export interface DocumentedCrd {
  readonly spec: {
    readonly group: string
    readonly scope: string
    readonly names: { readonly kind: string; readonly plural: string; readonly shortNames?: ReadonlyArray<string> }
    readonly versions: ReadonlyArray<{
      readonly name: string
      readonly served?: boolean
      readonly storage?: boolean
      readonly additionalPrinterColumns?: ReadonlyArray<PrinterColumn>
      readonly schema: { readonly openAPIV3Schema: OpenApiSchema }
    }>
  }
}

/** A table cell: no line breaks, pipes escaped. */
const cell = (text: string): string => text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|")
const code = (text: string): string => `\`${text.replace(/`/g, "'")}\``
const json = (value: unknown): string => JSON.stringify(value)

const typeOf = (node: OpenApiSchema): string => {
  if (node["x-kubernetes-int-or-string"] === true) return "int or string"
  if (node.type === "array") return `[]${node.items === undefined ? "any" : typeOf(node.items)}`
  if (node.type === "object" && typeof node.additionalProperties === "object") {
    return `map[string]${typeOf(node.additionalProperties)}`
  }
  if (node.type === "object" && node["x-kubernetes-preserve-unknown-fields"] === true) return "object (free-form)"
  const base = node.type ?? "any"
  return node.format === undefined ? base : `${base} (${node.format})`
}

/** Validation stated on one node, as short phrases. */
const validation = (node: OpenApiSchema): ReadonlyArray<string> => {
  const out: Array<string> = []
  if (node.enum !== undefined) out.push(`one of ${node.enum.map((value) => code(String(value))).join(", ")}`)
  if (node.pattern !== undefined) out.push(`pattern ${code(node.pattern)}`)
  const bound = (name: string, min: number | undefined, max: number | undefined) => {
    if (min !== undefined && max !== undefined) out.push(`${name} ${min}–${max}`)
    else if (min !== undefined) out.push(`${name} ≥ ${min}`)
    else if (max !== undefined) out.push(`${name} ≤ ${max}`)
  }
  bound("value", node.minimum, node.maximum)
  bound("length", node.minLength, node.maxLength)
  bound("items", node.minItems, node.maxItems)
  bound("properties", node.minProperties, node.maxProperties)
  const listType = node["x-kubernetes-list-type"]
  if (listType === "map") out.push(`list map keyed by ${(node["x-kubernetes-list-map-keys"] ?? []).join(", ")}`)
  else if (listType === "set") out.push("list of unique items")
  if (node["x-kubernetes-map-type"] === "atomic") out.push("replaced as a whole")
  for (const rule of node["x-kubernetes-validations"] ?? []) {
    const at = rule.fieldPath === undefined ? "" : ` (on ${code(rule.fieldPath)})`
    out.push(`rule${at}: ${rule.message} — CEL ${code(rule.rule)}`)
  }
  return out
}

interface Row {
  readonly path: string
  readonly node: OpenApiSchema
  readonly required: boolean
}

/** Every field below `node`, depth first, in the Schema's order; list items as `[]`, map values as `{}`. */
const rows = function* (node: OpenApiSchema, path: string): Generator<Row> {
  const required = new Set(node.required ?? [])
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const childPath = path === "" ? key : `${path}.${key}`
    yield { path: childPath, node: child, required: required.has(key) }
    yield* rows(child, childPath)
  }
  if (node.items !== undefined) yield* rows(node.items, `${path}[]`)
  if (typeof node.additionalProperties === "object") yield* rows(node.additionalProperties, `${path}{}`)
}

const fieldTable = (node: OpenApiSchema, path: string): string => {
  const lines = ["| Field | Type | Default | Description | Validation |", "|---|---|---|---|---|"]
  for (const row of rows(node, path)) {
    const name = `${code(row.path)}${row.required ? " **(required)**" : ""}`
    const fallback = row.node.default === undefined ? "" : code(json(row.node.default))
    const cells = [name, code(typeOf(row.node)), fallback, row.node.description ?? "", validation(row.node).join("; ")]
    lines.push(`| ${cells.map(cell).join(" | ")} |`)
  }
  return lines.join("\n")
}

const anchor = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, "")
    .replace(/ /g, "-")

/** One kind: its names, printer columns, object-level rules and a table of every spec and status field. */
const kindSection = (crd: DocumentedCrd): string => {
  const { group, names, scope, versions } = crd.spec
  return versions
    .map((version) => {
      const root = version.schema.openAPIV3Schema
      const parts = [
        `## ${names.kind}`,
        "",
        root.description ?? "",
        "",
        `- API version: ${code(`${group}/${version.name}`)}${version.storage === true ? " (storage version)" : ""}`,
        `- Scope: ${scope}; resource ${code(`${names.plural}.${group}`)}` +
          (names.shortNames === undefined || names.shortNames.length === 0
            ? ""
            : `; short names ${names.shortNames.map(code).join(", ")}`)
      ]
      const rules = validation(root)
      if (rules.length > 0) parts.push(`- Object rules: ${rules.join("; ")}`)
      const columns = version.additionalPrinterColumns ?? []
      if (columns.length > 0) {
        parts.push(
          "",
          "`kubectl get` columns:",
          "",
          "| Column | JSONPath | Description |",
          "|---|---|---|",
          ...columns.map(
            (column) =>
              `| ${cell(column.name)}${(column.priority ?? 0) > 0 ? " (wide)" : ""} | ${cell(code(column.jsonPath))} | ${cell(column.description ?? "")} |`
          )
        )
      }
      for (const section of ["spec", "status"]) {
        const node = root.properties?.[section]
        if (node === undefined) continue
        parts.push(
          "",
          `### ${names.kind}.${section}`,
          "",
          ...(node.description === undefined ? [] : [node.description, ""]),
          fieldTable(node, section)
        )
      }
      return parts.join("\n")
    })
    .join("\n\n")
}

/** The whole page for `crds`. */
export const apiReference = (crds: ReadonlyArray<DocumentedCrd>): string => {
  const kinds = crds.map((crd) => crd.spec.names.kind)
  return `<!-- Generated by \`npm run generate\` from the Effect Schema (packages/core/src/api) through the CRDs (scripts/api-reference.ts). Do not edit. -->
# API reference

${kinds.map((kind) => `- [${kind}](#${anchor(kind)})`).join("\n")}

Field paths are relative to the object; \`[]\` is an item of a list, \`{}\` a value of a map. Defaults are applied by
the apiserver (they are part of the CRD); a field without one is unset unless given. Rules marked *CEL* are checked
at admission, so an invalid object is refused with the message shown; the operator decodes every object with the same
Schema and reports anything admission could not know (a missing Secret, say) as a condition and an event.

${crds.map(kindSection).join("\n\n")}
`
}
