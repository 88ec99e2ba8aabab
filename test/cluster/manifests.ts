/**
 * Reading YAML manifest files into objects, and installing CRDs (server-side apply, then waiting
 * for `Established`).
 */
import * as fs from "node:fs"
import { Effect, Option } from "effect"
import { parseAllDocuments } from "yaml"
import { ClusterError } from "./errors.js"
import { conditionStatus, type KubeObject, type Objects } from "./objects.js"
import { waitUntil } from "./wait.js"

/** Every non-empty document of a YAML file (multi-document files are fine). */
export const readManifests = (file: string): ReadonlyArray<KubeObject> =>
  parseAllDocuments(fs.readFileSync(file, "utf8")).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`)
    const value = doc.toJS() as KubeObject | null
    return value === null ? [] : [value]
  })

/** The apiVersion/kind pairs a CRD serves. */
const servedKinds = (crd: KubeObject): ReadonlyArray<{ apiVersion: string; kind: string }> => {
  type Version = { readonly name?: string; readonly served?: boolean }
  const spec = (crd as { spec?: { group?: string; names?: { kind?: string }; versions?: ReadonlyArray<Version> } }).spec
  return (spec?.versions ?? [])
    .filter((version) => version.served !== false)
    .map((version) => ({ apiVersion: `${spec?.group}/${version.name}`, kind: spec?.names?.kind ?? "" }))
}

const crdRef = { apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition" } as const

/** Applies the CRDs in `files` and waits until each is Established. Returns their names. */
export const installCrds = (objects: Objects, files: ReadonlyArray<string>, fieldManager = "convex-operator-tests") =>
  Effect.gen(function* () {
    const crds = yield* Effect.try({
      try: () => files.flatMap(readManifests),
      catch: (cause) => new ClusterError({ component: "crds", reason: `reading CRD files: ${String(cause)}` })
    })
    for (const crd of crds) {
      if (crd.kind !== "CustomResourceDefinition") {
        return yield* new ClusterError({ component: "crds", reason: `not a CRD: ${crd.kind} ${crd.metadata.name}` })
      }
    }
    const names = yield* Effect.forEach(
      crds,
      (crd) =>
        objects.apply(crd, { fieldManager }).pipe(
          Effect.map((stored) => stored.metadata.name!),
          Effect.mapError((error) => new ClusterError({ component: "crds", reason: error.message }))
        ),
      { concurrency: 4 }
    )
    yield* Effect.forEach(
      names,
      (name) =>
        waitUntil(
          objects
            .get(crdRef, name)
            .pipe(
              Effect.map((crd) => (conditionStatus(crd, "Established") === "True" ? Option.some(crd) : Option.none()))
            ),
          { component: "crds", description: `CRD ${name} Established`, timeout: "30 seconds" }
        ),
      { concurrency: 4 }
    )
    // Established can come a moment before the group's discovery document lists the kind (a create then finds no
    // resource: 404). Like envtest, wait until discovery serves every version of every CRD.
    yield* Effect.forEach(
      crds.flatMap(servedKinds),
      ({ apiVersion, kind }) =>
        waitUntil(Effect.map(objects.resourceFor(apiVersion, kind), Option.some), {
          component: "crds",
          description: `${kind} in discovery of ${apiVersion}`,
          timeout: "30 seconds"
        }),
      { concurrency: 4 }
    )
    return names
  })
