/** Reading the YAML manifests that tests use: the user-facing samples in examples/ and the fixtures in test/. */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { crdFiles } from "@convex-operator/core"
import { parseAllDocuments } from "yaml"

/** The repository root. */
export const repoRoot = fileURLToPath(new URL("../..", import.meta.url))

/** The committed CRD files of every kind the operator serves (it waits for all of them before it is ready). */
export const crdPaths: ReadonlyArray<string> = crdFiles.map((file) => join(repoRoot, file.path))

export interface Manifest {
  /** `file.yaml#index` of the document. */
  readonly source: string
  readonly object: Record<string, unknown>
}

/** Every YAML document of every `.yaml` file in a folder (relative to the repository root), in file order. */
export const readManifests = (folder: string): ReadonlyArray<Manifest> =>
  readdirSync(join(repoRoot, folder))
    .filter((file) => file.endsWith(".yaml"))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(repoRoot, folder, file), "utf8")).map((doc, index) => {
        if (doc.errors.length > 0) throw new Error(`${folder}/${file}#${index}: ${doc.errors[0]?.message}`)
        return { source: `${folder}/${file}#${index}`, object: doc.toJS() as Record<string, unknown> }
      })
    )

/** Only the ConvexInstance documents. */
export const convexInstances = (folder: string): ReadonlyArray<Manifest> =>
  readManifests(folder).filter((manifest) => manifest.object.kind === "ConvexInstance")

/**
 * Reference manifests refused on purpose, with the field the refusal names: exportImport on postgres (SPEC.md,
 * "Compatibility with the reference operator").
 */
export const refusedReference: Readonly<Record<string, string>> = {
  "test/fixtures/reference/prod.yaml#0": "spec.maintenance.upgradeStrategy"
}
