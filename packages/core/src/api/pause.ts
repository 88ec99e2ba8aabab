/**
 * The pause annotation, modelled on Strimzi's `strimzi.io/pause-reconciliation`: while a ConvexInstance carries
 * `convex.icod.de/pause-reconciliation: "true"`, the operator changes nothing it owns for that instance and only
 * reports that it is paused. Any other value, or no annotation, means normal reconciling.
 *
 * @module
 */

/** The annotation that pauses reconciling an instance when its value is `"true"`. */
export const pauseAnnotation = "convex.icod.de/pause-reconciliation"

/** Whether the object's annotations pause its reconciling (the value must be exactly `"true"`). */
export const reconciliationPaused = (metadata: {
  readonly annotations?: { readonly [key: string]: string } | undefined
}): boolean => metadata.annotations?.[pauseAnnotation] === "true"
