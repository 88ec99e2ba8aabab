/**
 * The standard `app.kubernetes.io/*` labels on every child, and the narrower selector labels of workloads.
 *
 * @module
 */

/** Who manages the children: the value of `app.kubernetes.io/managed-by`. */
export const managedBy = "convex-operator"

/** The components of an instance, the value of `app.kubernetes.io/component`. */
export type Component = "backend" | "dashboard" | "config" | "secrets" | "storage" | "routing" | "snapshot"

/** The labels that select the pods of one component of the instance `name` (never change: selectors are immutable). */
export const selectorLabels = (name: string, component: Component): Readonly<Record<string, string>> => ({
  "app.kubernetes.io/name": "convex",
  "app.kubernetes.io/instance": name,
  "app.kubernetes.io/component": component
})

/** The labels of a child: the selector labels plus `part-of`, `managed-by` and the Convex version. */
export const standardLabels = (
  name: string,
  component: Component,
  version: string
): Readonly<Record<string, string>> => ({
  ...selectorLabels(name, component),
  "app.kubernetes.io/part-of": "convex",
  "app.kubernetes.io/managed-by": managedBy,
  "app.kubernetes.io/version": labelValue(version)
})

/** `value` cut to a valid label value: at most 63 characters, starting and ending with a letter or digit. */
export const labelValue = (value: string): string =>
  value
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+/, "")
    .replace(/[^A-Za-z0-9]+$/, "")

/** Whether `labels` mark an object as a child of the instance `name` managed by this operator. */
export const isManagedChild = (labels: Readonly<Record<string, string>> | undefined, name: string): boolean =>
  labels?.["app.kubernetes.io/managed-by"] === managedBy && labels["app.kubernetes.io/instance"] === name
