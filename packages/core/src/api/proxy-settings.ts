/**
 * What the public proxy (Gateway or Ingress controller) does with Convex traffic: how the site host reaches HTTP
 * actions, and the request-body and timeout limits a deploy, a file upload or a WebSocket needs.
 *
 * @module
 */
import { Schema } from "effect"
import { doc, withDefault } from "./annotations.js"
import { Int32 } from "./primitives.js"

/**
 * How the site host reaches HTTP actions. `rewrite`: port 3210 with `/http` put in front of the path by the
 * proxy, as the backend serves them itself. `proxy`: port 3211, Convex's dev site proxy, which forwards to the same
 * place but lets only 4 requests through at a time (`crates/local_backend/src/proxy.rs` in get-convex/convex-backend).
 */
export const SiteRoute = Schema.Literal("rewrite", "proxy")
export type SiteRoute = typeof SiteRoute.Type

/** A size as NGINX writes it (`client_max_body_size`): up to 4 digits and an optional k, m or g; 0 means no limit. */
const NginxSize = Schema.String.pipe(Schema.pattern(/^\d{1,4}[kmg]?$/))

/** Whole seconds, written into NGINX timeouts (ingress-nginx takes seconds; NGINX Gateway Fabric up to 4 digits). */
const TimeoutSeconds = Int32.pipe(Schema.between(1, 9999))

/**
 * The default body limit: 200m (200 MiB), above Convex's `MAX_PUSH_BYTES` of 200,000,000 bytes, the largest
 * request `npx convex deploy` may send (`crates/common/src/knobs.rs`, applied to the push routes in
 * `crates/local_backend/src/router.rs`). NGINX's own default is 1m.
 */
export const defaultMaxRequestBodySize = "200m"

/** The default read and send timeout: one hour, so idle WebSockets and slow streams are not cut after NGINX's 60 s. */
export const defaultProxyTimeoutSeconds = 3600

export const ProxyLimitsSpec = Schema.Struct({
  maxRequestBodySize: withDefault(
    NginxSize.pipe(
      doc(
        "Largest request body the proxy lets through, in NGINX size syntax (e.g. 200m, 1g; 0 for no limit). " +
          "The default covers Convex's 200 MB deploy push; file uploads larger than it need more."
      )
    ),
    defaultMaxRequestBodySize
  ),
  readTimeoutSeconds: withDefault(
    TimeoutSeconds.pipe(
      doc("Seconds the proxy waits between two reads from the backend (WebSockets, streamed responses).")
    ),
    defaultProxyTimeoutSeconds
  ),
  sendTimeoutSeconds: withDefault(
    TimeoutSeconds.pipe(doc("Seconds the proxy waits between two writes to the backend.")),
    defaultProxyTimeoutSeconds
  )
}).pipe(
  doc(
    "Limits of the public proxy: rendered as ingress-nginx annotations (mode ingress) or NGINX Gateway Fabric " +
      "ClientSettingsPolicy and ProxySettingsPolicy objects (mode gateway, when their CRDs are installed)."
  )
)
export type ProxyLimitsSpec = typeof ProxyLimitsSpec.Type
