/**
 * Validation of what a ConvexInstance refers to: the database URL Secret (and the URL itself, by Convex's rules),
 * the Secret of an existing instance secret (`instanceSecretRef`),
 * the S3 Secret and ConfigMap with every key they must hold, the database and S3 CA bundles, the TLS Secret, and `valueFrom` references of the
 * user's backend env. A problem names the field, the object and the key, never a value. Problems that would crash
 * or misconfigure the backend are blocking (the backend is not rolled into them); a malformed TLS Secret is not,
 * and a missing one is not a problem at all (cert-manager creates it from the Gateway).
 *
 * @module
 */
import type { ConvexInstance } from "../../api/index.js"
import { databaseUrlProblems, databaseUrlVariable } from "../../convex/index.js"
import { type BackendEnvironment, convexInstanceName } from "../../render/backend-env.js"
import { caBundles, caProblems } from "../../render/ca-bundles.js"
import { jobCaBundle } from "../../render/job-ca.js"
import type { ObservedIndex } from "../../render/observed.js"
import { s3BucketVariables, s3ConfigMapName } from "../../render/s3.js"
import { referencedInstanceSecret } from "./instance-secret-ref.js"

/** One problem with a reference. */
export interface ReferenceProblem {
  /** The spec field at fault, e.g. `spec.backend.db.secretRef`. */
  readonly field: string
  /** What is wrong and how to fix it; never contains a value read from a Secret. */
  readonly message: string
  /** Whether the backend must not be rolled while this problem lasts. */
  readonly blocking: boolean
}

const problem = (field: string, message: string, blocking = true): ReferenceProblem => ({ field, message, blocking })

const databaseProblems = (instance: ConvexInstance, observed: ObservedIndex): ReadonlyArray<ReferenceProblem> => {
  const { db } = instance.spec.backend
  if (db.engine === "sqlite" || db.secretRef === undefined || db.urlKey === undefined) return []
  const data = observed.secretData(db.secretRef)
  if (data === undefined) {
    return [
      problem(
        "spec.backend.db.secretRef",
        `Secret "${db.secretRef}" does not exist: create it with the ${databaseUrlVariable(db.engine)} under key "${db.urlKey}"`
      )
    ]
  }
  const url = data[db.urlKey]
  if (url === undefined) {
    return [problem("spec.backend.db.urlKey", `Secret "${db.secretRef}" has no key "${db.urlKey}"`)]
  }
  return databaseUrlProblems({
    engine: db.engine,
    url,
    instanceName: convexInstanceName(instance),
    requireSSL: db.requireSSL
  }).map((p) => problem("spec.backend.db.urlKey", `Secret "${db.secretRef}" key "${db.urlKey}": ${p.message}`))
}

const s3Problems = (
  instance: ConvexInstance,
  observed: ObservedIndex,
  environment: BackendEnvironment
): ReadonlyArray<ReferenceProblem> => {
  const { s3 } = instance.spec.backend
  if (!s3.enabled || s3.secretRef === undefined) return []
  const problems: Array<ReferenceProblem> = []
  const secret = observed.secretData(s3.secretRef)
  if (secret === undefined) {
    problems.push(problem("spec.backend.s3.secretRef", `Secret "${s3.secretRef}" does not exist`))
  }
  const configMapName = s3ConfigMapName(s3)
  const configMap = configMapName === undefined ? undefined : observed.configMapData(configMapName)
  if (s3.configMapRef !== undefined && configMap === undefined) {
    problems.push(problem("spec.backend.s3.configMapRef", `ConfigMap "${s3.configMapRef}" does not exist`))
  }
  // Every key read through secretKeyRef must exist in the Secret.
  if (secret !== undefined) {
    for (const entry of environment.env) {
      const ref = entry.valueFrom?.secretKeyRef
      if (ref?.name === s3.secretRef && ref.key !== undefined && secret[ref.key] === undefined) {
        problems.push(
          problem("spec.backend.s3", `Secret "${s3.secretRef}" has no key "${ref.key}" (for ${entry.name})`)
        )
      }
    }
  }
  const wired = (variable: string) =>
    environment.config[variable] !== undefined || environment.env.some((entry) => entry.name === variable)
  const configMapKey = (field: string, key: string | undefined) => {
    if (key !== undefined && configMap !== undefined && configMap[key] === undefined) {
      problems.push(problem(`spec.backend.s3.${field}`, `ConfigMap "${configMapName}" has no key "${key}"`))
    }
  }
  configMapKey("endpointHostKey", s3.endpointHostKey)
  configMapKey("endpointPortKey", s3.endpointPortKey)
  if (!wired("AWS_REGION")) {
    problems.push(
      problem(
        "spec.backend.s3.region",
        "S3 needs a region (AWS_REGION), or Convex silently stores files locally: set region or regionKey"
      )
    )
  }
  for (const [field, variable] of Object.entries(s3BucketVariables)) {
    if (!wired(variable)) {
      problems.push(
        problem(
          `spec.backend.s3.buckets.${field}`,
          `S3 needs a bucket for ${field} (${variable}), or Convex silently stores files locally: set bucket, bucketKey or buckets.${field}`
        )
      )
    }
  }
  return problems
}

const envProblems = (instance: ConvexInstance, observed: ObservedIndex): ReadonlyArray<ReferenceProblem> =>
  (instance.spec.backend.env ?? []).flatMap((entry, index) => {
    const field = `spec.backend.env[${index}].valueFrom`
    const secretRef = entry.valueFrom?.secretKeyRef
    if (secretRef !== undefined && secretRef.optional !== true) {
      const data = observed.secretData(secretRef.name ?? "")
      if (data === undefined)
        return [problem(field, `Secret "${secretRef.name ?? ""}" does not exist (for ${entry.name})`)]
      if (data[secretRef.key] === undefined) {
        return [problem(field, `Secret "${secretRef.name ?? ""}" has no key "${secretRef.key}" (for ${entry.name})`)]
      }
    }
    const configMapRef = entry.valueFrom?.configMapKeyRef
    if (configMapRef !== undefined && configMapRef.optional !== true) {
      const data = observed.configMapData(configMapRef.name ?? "")
      if (data === undefined) {
        return [problem(field, `ConfigMap "${configMapRef.name ?? ""}" does not exist (for ${entry.name})`)]
      }
      if (data[configMapRef.key] === undefined) {
        return [
          problem(field, `ConfigMap "${configMapRef.name ?? ""}" has no key "${configMapRef.key}" (for ${entry.name})`)
        ]
      }
    }
    return []
  })

const tlsProblems = (instance: ConvexInstance, observed: ObservedIndex): ReadonlyArray<ReferenceProblem> => {
  const name = instance.spec.networking?.tlsSecretRef
  if (name === undefined) return []
  const data = observed.secretData(name)
  if (data === undefined) return []
  const missing = ["tls.crt", "tls.key"].filter((key) => data[key] === undefined)
  return missing.length === 0
    ? []
    : [
        problem(
          "spec.networking.tlsSecretRef",
          `Secret "${name}" is not a TLS Secret: it has no key ${missing.map((key) => `"${key}"`).join(" or ")}`,
          false
        )
      ]
}

const instanceSecretProblems = (instance: ConvexInstance, observed: ObservedIndex): ReadonlyArray<ReferenceProblem> => {
  const referenced = referencedInstanceSecret(instance, observed)
  return referenced._tag === "Problem" ? [problem(referenced.field, referenced.message)] : []
}

/** The Secrets and ConfigMaps (in the instance's namespace) an instance reads: observe them, and map their changes to it. */
export interface InstanceReferences {
  readonly secrets: ReadonlyArray<string>
  readonly configMaps: ReadonlyArray<string>
}

/** The names of every Secret and ConfigMap `instance` refers to (not its own children), sorted and distinct. */
export const instanceReferences = (instance: ConvexInstance): InstanceReferences => {
  const secrets = new Set<string>()
  const configMaps = new Set<string>()
  const { db, s3, env } = instance.spec.backend
  if (db.engine !== "sqlite" && db.secretRef !== undefined) secrets.add(db.secretRef)
  if (s3.enabled && s3.secretRef !== undefined) {
    secrets.add(s3.secretRef)
    const configMapName = s3ConfigMapName(s3)
    if (configMapName !== undefined) configMaps.add(configMapName)
  }
  for (const entry of env ?? []) {
    if (entry.valueFrom?.secretKeyRef?.name !== undefined) secrets.add(entry.valueFrom.secretKeyRef.name)
    if (entry.valueFrom?.configMapKeyRef?.name !== undefined) configMaps.add(entry.valueFrom.configMapKeyRef.name)
  }
  const tls = instance.spec.networking?.tlsSecretRef
  if (tls !== undefined) secrets.add(tls)
  const instanceSecret = instance.spec.backend.instanceSecretRef
  if (instanceSecret !== undefined) secrets.add(instanceSecret.name)
  for (const bundle of caBundles(instance)) (bundle.kind === "Secret" ? secrets : configMaps).add(bundle.name)
  // A restore from a bucket named in the spec, until it succeeded: its credentials and CA (checked before its Job).
  const deployment = instance.spec.restore?.from.deployment
  if (deployment !== undefined && instance.status?.restore?.phase !== "Succeeded") {
    secrets.add(deployment.adminKeySecretRef.name)
  }
  const restore = instance.spec.restore?.from.s3
  if (restore !== undefined && instance.status?.restore?.phase !== "Succeeded") {
    secrets.add(restore.secretRef.name)
    const bundle = jobCaBundle(restore)
    if (bundle !== undefined) (bundle.kind === "Secret" ? secrets : configMaps).add(bundle.name)
  }
  return { secrets: [...secrets].sort(), configMaps: [...configMaps].sort() }
}

/** Every problem with the references of `instance`, in spec order. */
export const validateReferences = (
  instance: ConvexInstance,
  observed: ObservedIndex,
  environment: BackendEnvironment
): ReadonlyArray<ReferenceProblem> => [
  ...databaseProblems(instance, observed),
  ...instanceSecretProblems(instance, observed),
  ...s3Problems(instance, observed, environment),
  ...caProblems(instance, observed).map(({ field, message }) => problem(field, message)),
  ...envProblems(instance, observed),
  ...tlsProblems(instance, observed)
]
