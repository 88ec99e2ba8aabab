/**
 * The site route's fall back to Convex's dev site proxy. The site HTTPRoute asks the Gateway to put `/http/` in
 * front of the path (a `URLRewrite` filter, "Extended" support in Gateway API). A Gateway that does not implement
 * it sets the route's `Accepted` condition to False with reason `UnsupportedValue`, as Gateway API prescribes for
 * values it does not support. Then the route goes to port 3211 without the filter, and keeps doing so: the fallback
 * route carries annotations saying which parents rejected the rewrite (a hash of `parentRefs`, or of the operator's
 * own Gateway class) and why. A change of parents, or deleting the route, tries the rewrite again. Envoy Gateway,
 * which accepts the filter but applies it wrongly to a "/" match, counts as refusing it (`rewriteRejection`).
 *
 * @module
 */
import type { NetworkingSpec } from "../api/index.js"
import { shortHash } from "./hash.js"
import type { KubeObject } from "./objects.js"
import { rewriteRejection } from "./route-status.js"

/** Annotation of the fallback site route: the hash of the parents that rejected the rewrite. */
export const siteFallbackAnnotation = "convex.icod.de/site-rewrite-rejected-by"

/** Annotation of the fallback site route: what the Gateway controller said. */
export const siteFallbackReasonAnnotation = "convex.icod.de/site-rewrite-rejection"

/** The hash of what decides whether the rewrite is supported: the parents, or the class of the operator's Gateway. */
export const siteParentsKey = (networking: NetworkingSpec): string =>
  shortHash(
    networking.parentRefs !== undefined
      ? { parentRefs: networking.parentRefs }
      : { gatewayClassName: networking.gatewayClassName }
  )

/** The annotations of the fallback site route. */
export const siteFallbackAnnotations = (networking: NetworkingSpec, reason: string): Record<string, string> => ({
  [siteFallbackAnnotation]: siteParentsKey(networking),
  [siteFallbackReasonAnnotation]: reason
})

const hasRewrite = (route: KubeObject): boolean => {
  const rules = (route.spec as { rules?: unknown } | undefined)?.rules
  return (
    Array.isArray(rules) &&
    rules.some(
      (rule) =>
        Array.isArray((rule as { filters?: unknown }).filters) &&
        ((rule as { filters: ReadonlyArray<unknown> }).filters as ReadonlyArray<{ type?: unknown }>).some(
          (filter) => filter.type === "URLRewrite"
        )
    )
  )
}

/**
 * Why the site route must go to the dev site proxy although the spec asks for the rewrite, or undefined: the
 * observed site route is the fallback for the same parents, or it has the rewrite and its Gateway rejected it.
 */
export const siteRouteFallback = (
  networking: NetworkingSpec | undefined,
  observedSiteRoute: KubeObject | undefined
): string | undefined => {
  if (
    networking === undefined ||
    networking.mode !== "gateway" ||
    networking.siteHost === undefined ||
    networking.siteRoute !== "rewrite" ||
    observedSiteRoute === undefined
  ) {
    return undefined
  }
  const annotations = observedSiteRoute.metadata.annotations ?? {}
  if (annotations[siteFallbackAnnotation] === siteParentsKey(networking)) {
    return annotations[siteFallbackReasonAnnotation] ?? "the Gateway rejected the URLRewrite filter"
  }
  return hasRewrite(observedSiteRoute) ? rewriteRejection(observedSiteRoute) : undefined
}
