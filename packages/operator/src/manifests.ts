/**
 * Manifests the app prints (`convex-operator crd`) and the repository commits (`npm run generate`): one
 * rendering, so the printed CRD is byte for byte the committed one.
 *
 * @module
 */
import { convexInstanceCrd } from "@convex-operator/core"
import { stringify } from "yaml"

/** YAML as the project writes it: no line folding, no anchors. */
export const toYaml = (value: unknown): string => stringify(value, { lineWidth: 0, aliasDuplicateObjects: false })

/** The ConvexInstance CRD as one YAML document. */
export const convexInstanceCrdYaml = (): string => `---\n${toYaml(convexInstanceCrd)}`

/** Objects as a multi-document YAML stream. */
export const yamlDocuments = (objects: ReadonlyArray<unknown>): string =>
  objects.map((object) => `---\n${toYaml(object)}`).join("")
