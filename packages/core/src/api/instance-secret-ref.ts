/**
 * `ConvexInstance.spec.backend.instanceSecretRef`: take the backend's `INSTANCE_SECRET` from a Secret the user
 * keeps (a deployment moved in from docker compose or another chart) instead of generating one, so that every admin
 * key issued with it before keeps working.
 *
 * @module
 */
import { Schema } from "effect"
import { crossField, doc, optional, withDefault } from "./annotations.js"
import { DataKey, ObjectName } from "./primitives.js"

/** The default key of the instance secret: the variable's own name, as in a compose `.env` file. */
export const defaultInstanceSecretKey = "INSTANCE_SECRET"

export const InstanceSecretRef = crossField(
  Schema.Struct({
    name: ObjectName.pipe(doc("Secret in this namespace holding the instance secret. The operator only reads it.")),
    key: withDefault(
      DataKey.pipe(doc("Key of the instance secret (64 hex characters). Defaults to INSTANCE_SECRET.")),
      defaultInstanceSecretKey
    ),
    nameKey: optional(
      DataKey.pipe(
        doc(
          "Key holding the old deployment's INSTANCE_NAME (for example INSTANCE_NAME). When set, the operator checks " +
            "that it equals this instance's INSTANCE_NAME (metadata.name, or db.databaseName with '_' replaced by " +
            "'-') and holds the backend while it does not, since keys issued for another name are refused."
        )
      )
    )
  }),
  {
    check: (ref) => ref.nameKey === undefined || ref.nameKey !== ref.key,
    rule: "!has(self.nameKey) || self.nameKey != self.key",
    message:
      "nameKey and key name the same key of the Secret, which holds either the instance secret or the instance name: give INSTANCE_NAME a key of its own (for example INSTANCE_NAME), or drop nameKey",
    fieldPath: ".nameKey",
    reason: "FieldValueInvalid"
  }
).pipe(
  doc(
    "Use the INSTANCE_SECRET of an existing deployment instead of generating one: admin keys issued with it keep " +
      "working. The operator copies the value into its generated Secret <name>-convex-secrets (which the backend " +
      "and the Jobs read), issues the admin key there, and never writes the referenced Secret."
  )
)
export type InstanceSecretRef = typeof InstanceSecretRef.Type
