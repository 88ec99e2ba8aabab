/**
 * Scalar field types shared by the API: Kubernetes quantities and durations, DNS names, URLs, image tags.
 * Each carries the same rule for decoding (Effect Schema) and for admission (OpenAPI pattern in the CRD).
 *
 * @module
 */
import { Schema } from "effect"
import { CrdReplaceId, crdExtra, crossField } from "./annotations.js"

/** The regular expression Kubernetes uses for `resource.Quantity` (as controller-gen writes it). */
export const quantityPattern =
  /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/

/** A Kubernetes resource quantity: `512Mi`, `0.5`, `250m`, or a plain integer such as `cpu: 1`. */
export const Quantity = Schema.Union(
  Schema.Int,
  Schema.String.pipe(Schema.pattern(quantityPattern, { description: "a Kubernetes quantity such as 512Mi or 250m" }))
).annotations({
  identifier: "Quantity",
  description: "a Kubernetes quantity such as 512Mi, 250m or 2",
  [CrdReplaceId]: {
    anyOf: [{ type: "integer" }, { type: "string" }],
    pattern: quantityPattern.source,
    "x-kubernetes-int-or-string": true
  }
})
export type Quantity = typeof Quantity.Type

/** Go's `time.ParseDuration` syntax without sign, as `metav1.Duration` accepts it: `168h`, `1h30m`, `0s`, `0`. */
export const durationPattern = /^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$/

/** A duration in Go syntax (`168h`, `90m`, `0s`). */
export const GoDuration = Schema.String.pipe(
  Schema.pattern(durationPattern, { description: "a duration such as 168h, 90m or 0s" })
).annotations({ identifier: "GoDuration" })

/** An RFC 1123 DNS subdomain in lower case, without wildcard: what Kubernetes accepts as an object name. */
export const hostnamePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/**
 * A host name as DNS resolves it: the subdomain pattern with every label at most 63 characters (Gateway API and
 * Ingress schemas admit longer labels, which no resolver would ever find).
 */
export const dnsHostPattern = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/

export const Hostname = Schema.String.pipe(
  Schema.maxLength(253),
  Schema.pattern(dnsHostPattern, {
    description: "a lower-case DNS name such as convex.example.com (labels of at most 63 characters)"
  })
).annotations({ identifier: "Hostname" })

/** The name of an object in the same namespace (a Secret, a ConfigMap, a Gateway): an RFC 1123 subdomain. */
export const ObjectName = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(253),
  Schema.pattern(hostnamePattern, { description: "a Kubernetes object name (lower-case DNS subdomain)" })
).annotations({ identifier: "ObjectName" })

/** A namespace name: an RFC 1123 label. */
export const NamespaceName = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(63),
  Schema.pattern(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { description: "a namespace name (lower-case DNS label)" })
).annotations({ identifier: "NamespaceName" })

/** A key inside a Secret or ConfigMap. */
export const DataKey = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(253),
  Schema.pattern(/^[-._a-zA-Z0-9]+$/, { description: "a Secret/ConfigMap key (letters, digits, '-', '_', '.')" })
).annotations({ identifier: "DataKey" })

/** An absolute http(s) URL without a trailing path requirement, e.g. `https://api.example.com`. */
export const HttpUrl = Schema.String.pipe(
  Schema.maxLength(2048),
  Schema.pattern(/^https?:\/\/[^\s/?#]+([/?#][^\s]*)?$/, {
    description: "an http(s) URL such as https://x.example.com"
  })
).annotations({ identifier: "HttpUrl" })

/** A container image tag (Convex publishes full git SHAs plus `latest`). */
export const ImageTag = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(128),
  Schema.pattern(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, { description: "an image tag such as a 40-character git SHA" })
).annotations({ identifier: "ImageTag" })

/** A full container image reference (`registry/repo:tag` or `repo@sha256:…`). */
export const ImageRef = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(512),
  Schema.pattern(/^[^\s]+$/, { description: "an image reference without spaces" })
).annotations({ identifier: "ImageRef" })

/** A 32-bit integer (written with `format: int32` in the CRD). */
export const Int32 = Schema.Int.pipe(
  Schema.between(-2147483648, 2147483647),
  crdExtra({ format: "int32" })
).annotations({ identifier: "Int32" })

/** A 64-bit integer as Kubernetes writes it (`format: int64`); values stay within JavaScript's safe range. */
export const Int64 = Schema.Int.pipe(crdExtra({ format: "int64" })).annotations({ identifier: "Int64" })

/** A qualified name as Kubernetes uses for label, annotation and resource keys: `[dns-prefix/]name`. */
export const qualifiedNamePattern =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/

export const QualifiedName = Schema.String.pipe(
  Schema.maxLength(316),
  Schema.pattern(qualifiedNamePattern, { description: "a key such as example.com/name" })
).annotations({ identifier: "QualifiedName" })

/**
 * A map whose keys must be qualified names (annotations, resource lists). The keys are checked by a rule rather
 * than by the Record's key schema: a key schema would silently drop keys that do not match when decoding.
 */
export const qualifiedKeyMap = <A, I>(value: Schema.Schema<A, I>, what: string) =>
  crossField(Schema.Record({ key: Schema.String, value }).pipe(crdExtra({ maxProperties: 64 })), {
    check: (map) => Object.keys(map).every((key) => key.length <= 316 && qualifiedNamePattern.test(key)),
    rule: `self.all(k, size(k) <= 316 && k.matches(r'${qualifiedNamePattern.source}'))`,
    message: `${what} keys must be qualified names such as example.com/name`
  })

/** Annotations to put on a generated object. */
export const AnnotationMap = qualifiedKeyMap(Schema.String, "annotation")
