/**
 * The backend ConfigMap `<name>-backend-config`: the non-secret environment the backend reads, consumed with
 * `envFrom` (never a file nobody reads). It never holds a secret value.
 *
 * @module
 */
import { childMeta, type RenderContext } from "./context.js"
import type { ConfigMap } from "./objects.js"

/** Renders the backend ConfigMap. */
export const renderBackendConfigMap = (context: RenderContext): ConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: childMeta(context, context.names.backendConfig, "config"),
  data: context.environment.config
})
