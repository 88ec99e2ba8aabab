/**
 * The rules every CA bundle reference obeys (`backend.db`, `backend.s3`, a backup's S3 target, a restore's S3
 * location): the bundle comes from a Secret or a ConfigMap, never both, and `caKey` only means something when one
 * of them is named.
 *
 * @module
 */

interface CaReference {
  readonly caSecretRef?: string | undefined
  readonly caConfigMapRef?: string | undefined
  readonly caKey?: string | undefined
}

/** The cross-field checks (and their CEL rules) of a struct with `caSecretRef`, `caConfigMapRef` and `caKey`. */
export const caBundleChecks = [
  {
    check: (self: CaReference) => self.caSecretRef === undefined || self.caConfigMapRef === undefined,
    rule: "!(has(self.caSecretRef) && has(self.caConfigMapRef))",
    message: "set caSecretRef or caConfigMapRef, not both",
    fieldPath: ".caConfigMapRef",
    reason: "FieldValueForbidden" as const
  },
  {
    check: (self: CaReference) =>
      self.caKey === undefined || self.caSecretRef !== undefined || self.caConfigMapRef !== undefined,
    rule: "!has(self.caKey) || has(self.caSecretRef) || has(self.caConfigMapRef)",
    message: "caKey names a key of caSecretRef or caConfigMapRef: set one of them, or remove caKey",
    fieldPath: ".caKey",
    reason: "FieldValueInvalid" as const
  }
]
