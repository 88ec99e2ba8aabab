/**
 * The CustomResourceDefinition of ConvexInstance, derived from the Schema. `config/crd/bases/` holds its
 * YAML, written by `npm run generate` and guarded by a drift test.
 *
 * @module
 */

import { categories, group, instanceNameRule, kind, plural, shortNames, singular, version } from "./convex-instance.js"
import { toOpenApi } from "./openapi.js"
import type { OpenApiSchema } from "./openapi-types.js"
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

const rootSchema: OpenApiSchema = {
  description:
    "A self-hosted Convex deployment: backend StatefulSet, optional dashboard, Services, generated secrets, " +
    "routes, and safe upgrades.",
  type: "object",
  properties: {
    apiVersion: { description: "APIVersion of this object: convex.icod.de/v1alpha1.", type: "string" },
    kind: { description: "Kind of this object: ConvexInstance.", type: "string" },
    metadata: { type: "object" },
    spec: toOpenApi(ConvexInstanceSpec),
    status: toOpenApi(ConvexInstanceStatus)
  },
  required: ["spec"],
  "x-kubernetes-validations": [{ rule: instanceNameRule.rule, message: instanceNameRule.message }]
}

/** The ConvexInstance CustomResourceDefinition (`apiextensions.k8s.io/v1`). */
export const convexInstanceCrd = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: {
    name: `${plural}.${group}`,
    labels: { "app.kubernetes.io/name": "convex-operator", "app.kubernetes.io/part-of": "convex-operator" }
  },
  spec: {
    group,
    names: { kind, listKind: `${kind}List`, plural, singular, shortNames, categories },
    scope: "Namespaced",
    versions: [
      {
        name: version,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: printerColumns,
        schema: { openAPIV3Schema: rootSchema }
      }
    ]
  }
} as const

/** Where the CRD's YAML lives in the repository, relative to its root. */
export const convexInstanceCrdPath = `config/crd/bases/${group}_${plural}.yaml`
