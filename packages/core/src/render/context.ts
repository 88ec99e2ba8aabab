/**
 * What every renderer needs, computed once per decision: names, owner, URLs, the backend environment, the images
 * that should run (which the upgrade plan may hold back), and the pod annotations that trigger rollouts.
 *
 * @module
 */
import type { ConvexInstance, OwnerReference } from "../api/index.js"
import type { BackendEnvironment } from "./backend-env.js"
import { type Component, standardLabels } from "./labels.js"
import { type ChildNames, childNames } from "./names.js"
import type { RenderedMeta } from "./objects.js"
import { controllerRef } from "./owner.js"
import type { InstanceUrls } from "./urls.js"

/** The operator itself, as far as rendering needs it (the snapshot Jobs run its image). */
export interface OperatorSettings {
  /** The operator's own image, which has the `snapshot` subcommand and the `convex` CLI. */
  readonly image: string
  /** The command of snapshot Jobs; the image's entrypoint when absent. */
  readonly command?: ReadonlyArray<string>
}

/** The images and version that run. */
export interface RunningImages {
  /** The Convex version (image tag) the images are of; it labels the children. */
  readonly version: string
  readonly backend: string
  readonly dashboard: string
}

/** Everything a renderer reads. */
export interface RenderContext {
  readonly instance: ConvexInstance
  /** `metadata.name` of the ConvexInstance. */
  readonly name: string
  readonly namespace: string
  readonly names: ChildNames
  readonly ownerReferences: ReadonlyArray<OwnerReference>
  readonly urls: InstanceUrls
  readonly environment: BackendEnvironment
  readonly images: RunningImages
  /** Annotations of the backend pod template (configuration hash, restart trigger). */
  readonly backendPodAnnotations: Readonly<Record<string, string>>
  /** Annotations of the dashboard pod template (configuration hash). */
  readonly dashboardPodAnnotations: Readonly<Record<string, string>>
  /** The data claim to mount instead of `<name>-backend-pvc` (an exportImport upgrade moved to a fresh one). */
  readonly dataClaim?: string
  /** Where /convex/data goes when the data guard says (it may keep a running emptyDir); the spec's choice otherwise. */
  readonly dataVolume?: "claim" | "emptyDir"
  /** Why the site host goes to the dev site proxy although the spec asks for the rewrite (the Gateway rejected it). */
  readonly siteRouteFallback?: string
  readonly operator: OperatorSettings
}

/** The parts of a render context that are not derived from the instance alone. */
export interface RenderContextInput {
  readonly instance: ConvexInstance
  readonly urls: InstanceUrls
  readonly environment: BackendEnvironment
  readonly images: RunningImages
  readonly backendPodAnnotations: Readonly<Record<string, string>>
  readonly dashboardPodAnnotations: Readonly<Record<string, string>>
  /** The data claim to mount instead of `<name>-backend-pvc` (an exportImport upgrade moved to a fresh one). */
  readonly dataClaim?: string
  /** Where /convex/data goes when the data guard says (it may keep a running emptyDir); the spec's choice otherwise. */
  readonly dataVolume?: "claim" | "emptyDir"
  /** Why the site host goes to the dev site proxy although the spec asks for the rewrite (the Gateway rejected it). */
  readonly siteRouteFallback?: string
  readonly operator: OperatorSettings
}

/** The namespace of the instance (`default` when the object does not say, as in a bare manifest). */
export const instanceNamespace = (instance: ConvexInstance): string => instance.metadata.namespace ?? "default"

/** Builds the render context. */
export const renderContext = (input: RenderContextInput): RenderContext => {
  const name = input.instance.metadata.name ?? ""
  return {
    ...input,
    name,
    namespace: instanceNamespace(input.instance),
    // A moved data claim is `<name>-backend-pvc-g<n>`: the names' type only knows the first generation.
    names:
      input.dataClaim === undefined
        ? childNames(name)
        : { ...childNames(name), backendPvc: input.dataClaim as ChildNames["backendPvc"] },
    ownerReferences: controllerRef(input.instance)
  }
}

/** Metadata of a child: name, namespace, standard labels, the controller reference, and extra annotations. */
export const childMeta = (
  context: RenderContext,
  name: string,
  component: Component,
  options: {
    readonly annotations?: Readonly<Record<string, string>> | undefined
    readonly owned?: boolean
  } = {}
): RenderedMeta => {
  const owned = options.owned ?? true
  return {
    name,
    namespace: context.namespace,
    labels: standardLabels(context.name, component, context.images.version),
    ...(options.annotations !== undefined && Object.keys(options.annotations).length > 0
      ? { annotations: options.annotations }
      : {}),
    ...(owned && context.ownerReferences.length > 0 ? { ownerReferences: context.ownerReferences } : {})
  }
}
