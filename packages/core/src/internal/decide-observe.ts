/**
 * What `decide` reads from observed objects besides readiness: container images, the values behind `valueFrom`
 * references (for the rollout hash only), and the combined state of the public routes.
 *
 * @module
 */
import type { EnvVar } from "../api/index.js"
import type { RenderContext } from "../render/context.js"
import { routeParents } from "../render/httproute.js"
import { type ChildObject, type KubeObject, objectKey } from "../render/objects.js"
import type { ObservedIndex } from "../render/observed.js"
import { type RoutingState, routeState } from "../render/route-status.js"

/** The image of the container `container` in the pod template of a workload, if observed. */
export const containerImage = (object: KubeObject | undefined, container: string): string | undefined => {
  const containers = (object?.spec as { template?: { spec?: { containers?: unknown } } } | undefined)?.template?.spec
    ?.containers
  if (!Array.isArray(containers)) return undefined
  const found = containers.find((entry) => (entry as { name?: unknown }).name === container) as
    | { image?: unknown }
    | undefined
  return typeof found?.image === "string" ? found.image : undefined
}

/**
 * The values behind every `valueFrom` of the backend env, with the generated Secret as decided. Only ever hashed
 * (see `render/hash.ts`), never published.
 */
export const referencedValues = (
  env: ReadonlyArray<EnvVar>,
  observed: ObservedIndex,
  generated: { readonly name: string; readonly data: Readonly<Record<string, string>> }
) =>
  env.flatMap((entry) => {
    const secret = entry.valueFrom?.secretKeyRef
    if (secret !== undefined) {
      const name = secret.name ?? ""
      const data = name === generated.name ? generated.data : observed.secretData(name)
      return [["Secret", name, secret.key, data?.[secret.key] ?? null]]
    }
    const configMap = entry.valueFrom?.configMapKeyRef
    if (configMap !== undefined) {
      const name = configMap.name ?? ""
      return [["ConfigMap", name, configMap.key, observed.configMapData(name)?.[configMap.key] ?? null]]
    }
    return []
  })

/**
 * The combined state of the public routes (HTTPRoutes or the Ingress): the first that is not ready, or Ready.
 * An object about to be applied is pending; an Ingress is ready once it exists as rendered.
 */
export const routesState = (
  context: RenderContext,
  desired: ReadonlyArray<ChildObject>,
  pending: ReadonlySet<string>,
  observed: ObservedIndex
): RoutingState => {
  const { names, namespace } = context
  for (const object of desired) {
    if (object.kind !== "HTTPRoute" && object.kind !== "Ingress") continue
    if (pending.has(objectKey(object))) return { _tag: "Pending", message: `applying ${objectKey(object)}` }
    if (object.kind === "Ingress") continue
    const name = object.metadata.name
    const parents =
      name === names.redirectRoute
        ? object.spec.parentRefs
        : routeParents(context, name === names.apiRoute ? "api" : name === names.siteRoute ? "site" : "dashboard")
    const state = routeState(observed.get(object.kind, name), parents, namespace)
    if (state._tag !== "Ready") return state
  }
  return { _tag: "Ready" }
}
