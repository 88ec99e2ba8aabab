/**
 * The CustomResourceDefinitions of the API group, derived from the Schemas (ConvexInstance here; ConvexBackup and
 * ConvexScheduledBackup in their modules; `crds.ts` lists them all). `config/crd/bases/` holds their YAML, written
 * by `npm run generate` and guarded by a drift test.
 *
 * @module
 */

import type { Schema } from "effect"
import { categories, group, instanceNameRule, kind, plural, shortNames, singular, version } from "./convex-instance.js"
import { toOpenApi } from "./openapi.js"
import type { OpenApiSchema, ValidationRule } from "./openapi-types.js"
import { ConvexInstanceSpec } from "./spec.js"
import { ConvexInstanceStatus } from "./status.js"

/** A printer column of `kubectl get`. */
export interface PrinterColumn {
  readonly name: string
  readonly type: "string" | "integer" | "number" | "boolean" | "date"
  readonly jsonPath: string
  readonly description?: string
  readonly priority?: number
}

export const printerColumns: ReadonlyArray<PrinterColumn> = [
  {
    name: "Ready",
    type: "string",
    jsonPath: '.status.conditions[?(@.type=="Ready")].status',
    description: "Whether the deployment serves requests"
  },
  { name: "Phase", type: "string", jsonPath: ".status.phase", description: "Lifecycle phase" },
  { name: "Version", type: "string", jsonPath: ".spec.version", description: "Convex version (image tag)" },
  { name: "API URL", type: "string", jsonPath: ".status.endpoints.apiUrl", description: "URL of the Convex API" },
  { name: "Environment", type: "string", jsonPath: ".spec.environment", priority: 1 },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
]

/** What differs between the CRDs of this API group. */
export interface CrdDefinition {
  readonly kind: string
  readonly plural: string
  readonly singular: string
  readonly shortNames: ReadonlyArray<string>
  readonly description: string
  readonly spec: Schema.Schema.AnyNoContext
  readonly status: Schema.Schema.AnyNoContext
  readonly printerColumns: ReadonlyArray<PrinterColumn>
  /** CEL rules at the root (on `metadata`, or between spec and status). */
  readonly rootRules?: ReadonlyArray<ValidationRule>
}

/** The `apiextensions.k8s.io/v1` CustomResourceDefinition of `definition`, namespaced, in category `convex`. */
export const customResourceDefinition = (definition: CrdDefinition) =>
  ({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${definition.plural}.${group}`,
      labels: { "app.kubernetes.io/name": "convex-operator", "app.kubernetes.io/part-of": "convex-operator" }
    },
    spec: {
      group,
      names: {
        kind: definition.kind,
        listKind: `${definition.kind}List`,
        plural: definition.plural,
        singular: definition.singular,
        shortNames: definition.shortNames,
        categories
      },
      scope: "Namespaced",
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: definition.printerColumns,
          schema: {
            openAPIV3Schema: {
              description: definition.description,
              type: "object",
              properties: {
                apiVersion: { description: `APIVersion of this object: ${group}/${version}.`, type: "string" },
                kind: { description: `Kind of this object: ${definition.kind}.`, type: "string" },
                metadata: { type: "object" },
                spec: toOpenApi(definition.spec),
                status: toOpenApi(definition.status)
              },
              required: ["spec"],
              ...(definition.rootRules === undefined ? {} : { "x-kubernetes-validations": definition.rootRules })
            } satisfies OpenApiSchema
          }
        }
      ]
    }
  }) as const

/** Where a CRD's YAML lives in the repository, relative to its root. */
export const crdPath = (definition: { readonly plural: string }): string =>
  `config/crd/bases/${group}_${definition.plural}.yaml`

/** The ConvexInstance CustomResourceDefinition (`apiextensions.k8s.io/v1`). */
export const convexInstanceCrd = customResourceDefinition({
  kind,
  plural,
  singular,
  shortNames,
  description:
    "A self-hosted Convex deployment: backend StatefulSet, optional dashboard, Services, generated secrets, " +
    "routes, and safe upgrades.",
  spec: ConvexInstanceSpec,
  status: ConvexInstanceStatus,
  printerColumns,
  rootRules: [{ rule: instanceNameRule.rule, message: instanceNameRule.message }]
})

/** Where the CRD's YAML lives in the repository, relative to its root. */
export const convexInstanceCrdPath = crdPath({ plural })
