/**
 * The Kubernetes core types that a ConvexInstance embeds (resources, env vars, security contexts, conditions),
 * written as Effect Schema so they are decoded and validated like the rest of the spec. They follow
 * `k8s.io/api/core/v1` and `metav1` field for field: a structural CRD prunes what its schema does not list,
 * so a field missing here would be silently dropped from the user's manifest.
 *
 * @module
 */
import { Schema } from "effect"
import { crdExtra, crossField, doc, optional } from "./annotations.js"
import { Int64, Quantity, qualifiedKeyMap } from "./primitives.js"

const atomic = crdExtra({ "x-kubernetes-map-type": "atomic" })
const StringList = Schema.Array(Schema.String).pipe(crdExtra({ "x-kubernetes-list-type": "atomic" }))

const ResourceList = qualifiedKeyMap(Quantity, "resource name")

export const ResourceClaim = Schema.Struct({
  name: Schema.String,
  request: optional(Schema.String)
})

/** `core/v1.ResourceRequirements`. */
export const ResourceRequirements = Schema.Struct({
  limits: optional(ResourceList.pipe(doc("Maximum amount of compute resources allowed."))),
  requests: optional(ResourceList.pipe(doc("Minimum amount of compute resources required."))),
  claims: optional(
    Schema.Array(ResourceClaim).pipe(
      crdExtra({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] }),
      doc("Dynamic resource claims used by this container.")
    )
  )
}).annotations({ identifier: "ResourceRequirements" })
export type ResourceRequirements = typeof ResourceRequirements.Type

const KeySelector = Schema.Struct({
  name: optional(Schema.String),
  key: Schema.String,
  optional: optional(Schema.Boolean)
}).pipe(atomic)

/** `core/v1.EnvVarSource`. */
export const EnvVarSource = Schema.Struct({
  configMapKeyRef: optional(KeySelector.pipe(doc("Selects a key of a ConfigMap."))),
  secretKeyRef: optional(KeySelector.pipe(doc("Selects a key of a Secret in the instance's namespace."))),
  fieldRef: optional(
    Schema.Struct({ apiVersion: optional(Schema.String), fieldPath: Schema.String }).pipe(
      atomic,
      doc("Selects a field of the pod.")
    )
  ),
  resourceFieldRef: optional(
    Schema.Struct({
      containerName: optional(Schema.String),
      divisor: optional(Quantity),
      resource: Schema.String
    }).pipe(atomic, doc("Selects a resource of the container."))
  )
})

/** `core/v1.EnvVar`. */
export const EnvVar = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1), doc("Name of the environment variable.")),
  value: optional(Schema.String),
  valueFrom: optional(EnvVarSource)
}).annotations({ identifier: "EnvVar" })
export type EnvVar = typeof EnvVar.Type

const SELinuxOptions = Schema.Struct({
  user: optional(Schema.String),
  role: optional(Schema.String),
  type: optional(Schema.String),
  level: optional(Schema.String)
})

const WindowsSecurityContextOptions = Schema.Struct({
  gmsaCredentialSpecName: optional(Schema.String),
  gmsaCredentialSpec: optional(Schema.String),
  runAsUserName: optional(Schema.String),
  hostProcess: optional(Schema.Boolean)
})

const SeccompProfile = crossField(
  Schema.Struct({
    type: Schema.String.pipe(doc("RuntimeDefault, Unconfined or Localhost.")),
    localhostProfile: optional(Schema.String)
  }),
  {
    check: (profile) => (profile.type === "Localhost") === (profile.localhostProfile !== undefined),
    rule: "self.type == 'Localhost' ? has(self.localhostProfile) : !has(self.localhostProfile)",
    message: "localhostProfile is required when type is Localhost, and forbidden otherwise",
    fieldPath: ".localhostProfile"
  }
)

const AppArmorProfile = Schema.Struct({
  type: Schema.String,
  localhostProfile: optional(Schema.String)
})

const Sysctl = Schema.Struct({ name: Schema.String, value: Schema.String })

/** `core/v1.PodSecurityContext`. */
export const PodSecurityContext = Schema.Struct({
  seLinuxOptions: optional(SELinuxOptions),
  windowsOptions: optional(WindowsSecurityContextOptions),
  runAsUser: optional(Int64),
  runAsGroup: optional(Int64),
  runAsNonRoot: optional(Schema.Boolean),
  supplementalGroups: optional(Schema.Array(Int64).pipe(crdExtra({ "x-kubernetes-list-type": "atomic" }))),
  supplementalGroupsPolicy: optional(Schema.String),
  fsGroup: optional(Int64),
  sysctls: optional(Schema.Array(Sysctl).pipe(crdExtra({ "x-kubernetes-list-type": "atomic" }))),
  fsGroupChangePolicy: optional(Schema.String),
  seccompProfile: optional(SeccompProfile),
  appArmorProfile: optional(AppArmorProfile),
  seLinuxChangePolicy: optional(Schema.String)
}).annotations({ identifier: "PodSecurityContext" })
export type PodSecurityContext = typeof PodSecurityContext.Type

/** `core/v1.SecurityContext` (container level). */
export const SecurityContext = Schema.Struct({
  capabilities: optional(Schema.Struct({ add: optional(StringList), drop: optional(StringList) })),
  privileged: optional(Schema.Boolean),
  seLinuxOptions: optional(SELinuxOptions),
  windowsOptions: optional(WindowsSecurityContextOptions),
  runAsUser: optional(Int64),
  runAsGroup: optional(Int64),
  runAsNonRoot: optional(Schema.Boolean),
  readOnlyRootFilesystem: optional(Schema.Boolean),
  allowPrivilegeEscalation: optional(Schema.Boolean),
  procMount: optional(Schema.String),
  seccompProfile: optional(SeccompProfile),
  appArmorProfile: optional(AppArmorProfile)
}).annotations({ identifier: "SecurityContext" })
export type SecurityContext = typeof SecurityContext.Type

/** `metav1.Condition`, with the same validation as upstream. */
export const Condition = Schema.Struct({
  type: Schema.String.pipe(
    Schema.maxLength(316),
    Schema.pattern(
      /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/
    ),
    doc("Type of condition in CamelCase.")
  ),
  status: Schema.Literal("True", "False", "Unknown").pipe(doc("Status of the condition: True, False or Unknown.")),
  observedGeneration: optional(
    Int64.pipe(Schema.nonNegative(), doc("The .metadata.generation that the condition was set based upon."))
  ),
  lastTransitionTime: Schema.String.pipe(
    crdExtra({ format: "date-time" }),
    doc("The last time the condition transitioned from one status to another.")
  ),
  reason: Schema.String.pipe(
    Schema.minLength(1),
    Schema.maxLength(1024),
    Schema.pattern(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/),
    doc("A programmatic identifier (CamelCase) for the reason of the last transition.")
  ),
  message: Schema.String.pipe(Schema.maxLength(32768), doc("A human readable message about the transition."))
}).annotations({ identifier: "Condition" })
export type Condition = typeof Condition.Type

/** `status.conditions` of a resource: a list map keyed by type. */
export const conditionList = (description: string, maxItems = 16) =>
  Schema.Array(Condition).pipe(
    Schema.maxItems(maxItems),
    crdExtra({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] }),
    doc(description)
  )
