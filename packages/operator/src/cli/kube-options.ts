/**
 * What the user-facing commands that talk to a cluster share, with kubectl's habits: `--kubeconfig` (else
 * KUBECONFIG, ~/.kube/config, then the in-cluster service account) and `-n/--namespace` (else the current context's
 * namespace, else `default`).
 */

import { KubeClient, type KubeConfigSource } from "@convex-operator/k8s"
import { Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { operatorVersion } from "../manifests.js"
import { UserError } from "./user-error.js"

export const kubeconfigOption = Options.text("kubeconfig").pipe(
  Options.withDescription("Kubeconfig file; default: KUBECONFIG, ~/.kube/config, then the in-cluster service account."),
  Options.optional
)

export const namespaceOption = Options.text("namespace").pipe(
  Options.withAlias("n"),
  Options.withDescription("Namespace; default: the kubeconfig context's namespace, else 'default' (as kubectl)."),
  Options.optional
)

/** Where `--kubeconfig` (or its absence) says to connect. */
export const kubeConfigSource = (kubeconfig: Option.Option<string>): KubeConfigSource =>
  Option.match(kubeconfig, {
    onNone: () => ({ _tag: "Default" }),
    onSome: (path) => ({ _tag: "File", path })
  })

/** The User-Agent of a part of the operator, e.g. `convex-operator-cli/0.1.0`. */
export const userAgent = (component: string) => `${component}/${operatorVersion}`

/** Runs `body` with a client of the chosen cluster and the namespace `-n` or the context names. */
export const withKube = <A>(
  flags: { readonly kubeconfig: Option.Option<string>; readonly namespace?: Option.Option<string> },
  body: (namespace: string) => Effect.Effect<A, UserError, KubeClient>
): Effect.Effect<A, UserError> => {
  const source = kubeConfigSource(flags.kubeconfig)
  return Effect.gen(function* () {
    const given = flags.namespace === undefined ? undefined : Option.getOrUndefined(flags.namespace)
    const namespace = given ?? (yield* KubeClient.contextNamespace(source))
    return yield* body(namespace).pipe(
      Effect.provide(KubeClient.layerLive({ source, userAgent: userAgent("convex-operator-cli") }))
    )
  }).pipe(Effect.catchTag("KubeConfigError", (error) => Effect.fail(new UserError({ message: error.message }))))
}
