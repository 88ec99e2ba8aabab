/**
 * `spec.backend.instanceSecretRef`: the instance secret of an existing deployment, read from the user's Secret.
 * The value is used only when the Secret, its key and (if `nameKey` is set) the instance name it records are all
 * right; otherwise a blocking problem names the field and the fix, and never the value.
 *
 * @module
 */
import type { ConvexInstance } from "../../api/index.js"
import { instanceSecretProblem } from "../../convex/index.js"
import { convexInstanceName } from "../../render/backend-env.js"
import type { ObservedIndex } from "../../render/observed.js"

/** What the referenced Secret gives: the instance secret, or what keeps it from being used. */
export type ReferencedInstanceSecret =
  | { readonly _tag: "None" }
  | { readonly _tag: "Valid"; readonly instanceSecret: string; readonly secretName: string }
  | { readonly _tag: "Problem"; readonly field: string; readonly message: string }

const field = "spec.backend.instanceSecretRef"

/** Reads `spec.backend.instanceSecretRef` of `instance` from the observed Secrets. */
export const referencedInstanceSecret = (
  instance: ConvexInstance,
  observed: ObservedIndex
): ReferencedInstanceSecret => {
  const ref = instance.spec.backend.instanceSecretRef
  if (ref === undefined) return { _tag: "None" }
  const data = observed.secretData(ref.name)
  if (data === undefined) {
    return {
      _tag: "Problem",
      field,
      message: `Secret "${ref.name}" does not exist: create it with the old deployment's INSTANCE_SECRET under key "${ref.key}" (kubectl create secret generic ${ref.name} --from-literal=${ref.key}=<64 hex characters>)`
    }
  }
  const raw = data[ref.key]
  if (raw === undefined) {
    return { _tag: "Problem", field: `${field}.key`, message: `Secret "${ref.name}" has no key "${ref.key}"` }
  }
  // Surrounding whitespace is dropped: Convex's read_credentials.sh writes credentials/instance_secret with `echo`
  // (get-convex/convex-backend self-hosted/docker-build), so a Secret made from that file ends in a newline.
  const value = raw.trim()
  const problem = instanceSecretProblem(value)
  if (problem !== undefined) {
    return {
      _tag: "Problem",
      field: `${field}.key`,
      message: `Secret "${ref.name}" key "${ref.key}": the instance secret ${problem}; it must be the old deployment's INSTANCE_SECRET, 64 hex characters`
    }
  }
  if (ref.nameKey !== undefined) {
    const expected = convexInstanceName(instance)
    const recorded = data[ref.nameKey]
    if (recorded === undefined) {
      return { _tag: "Problem", field: `${field}.nameKey`, message: `Secret "${ref.name}" has no key "${ref.nameKey}"` }
    }
    // An instance name is not a secret (it is the prefix of every admin key), so it may be named here.
    if (recorded.trim() !== expected) {
      return {
        _tag: "Problem",
        field: `${field}.nameKey`,
        message: `Secret "${ref.name}" key "${ref.nameKey}" records the instance name "${recorded.trim()}", but this instance's INSTANCE_NAME is "${expected}": admin keys of the old deployment would be refused; set spec.backend.db.databaseName to "${recorded.trim().replaceAll("-", "_")}" (or name the ConvexInstance "${recorded.trim()}")`
      }
    }
  }
  return { _tag: "Valid", instanceSecret: value, secretName: ref.name }
}
