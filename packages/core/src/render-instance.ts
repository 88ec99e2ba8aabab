/**
 * `renderInstance`: the children of a ConvexInstance without a cluster and without operator internals, for tools
 * that preview or diff what the operator will create (the operator's own `render` command prints it).
 *
 * Nothing secret is rendered and nothing random is drawn: the generated Secret's values are placeholders. Values
 * read from referenced Secrets or ConfigMaps render as `<Secret name key key>` / `<ConfigMap name key key>`; a
 * database URL stand-in has the shape Convex accepts, so the backend is rendered rather than held back.
 *
 * @module
 */
import type { ConvexInstance } from "./api/index.js"
import { decide, type Observed } from "./decide.js"
import { instanceReferences } from "./internal/status/references.js"
import { convexInstanceName } from "./render/backend-env.js"
import { caBundles } from "./render/ca-bundles.js"
import { childNames, secretKeys } from "./render/names.js"
import { s3ConfigMapName } from "./render/s3.js"

/** How generated secret values render. */
export const generatedPlaceholder = "<generated>"

export interface RenderInstanceOptions {
  /** The operator image that the instance's Jobs (backups, upgrades) run. */
  readonly operatorImage: string
}

/** Base64 to UTF-8 without Node's Buffer. */
const fromBase64 = (encoded: string): string =>
  new TextDecoder().decode(Uint8Array.from(atob(encoded), (char) => char.charCodeAt(0)))

type Json = Record<string, unknown>

const isRecord = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

/** Every key of a referenced Secret or ConfigMap that rendering may read, so that none reads as missing. */
const referencedKeys = (instance: ConvexInstance) => {
  const secrets = new Map<string, Set<string>>()
  const configMaps = new Map<string, Set<string>>()
  const add = (into: Map<string, Set<string>>, name: string | undefined, key: string | undefined) => {
    if (name === undefined) return
    const keys = into.get(name) ?? new Set<string>()
    if (key !== undefined) keys.add(key)
    into.set(name, keys)
  }
  const references = instanceReferences(instance)
  for (const name of references.secrets) add(secrets, name, undefined)
  for (const name of references.configMaps) add(configMaps, name, undefined)
  const { db, s3, env } = instance.spec.backend
  if (db.engine !== "sqlite") add(secrets, db.secretRef, db.urlKey)
  if (s3.enabled && s3.secretRef !== undefined) {
    for (const key of [s3.accessKeyIdKey, s3.secretAccessKeyKey, s3.bucketKey, s3.regionKey, s3.endpointKey]) {
      add(secrets, s3.secretRef, key)
    }
    const configMap = s3ConfigMapName(s3)
    add(configMaps, configMap, s3.endpointHostKey)
    add(configMaps, configMap, s3.endpointPortKey)
    if (s3.autoDetectOBC) {
      for (const key of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) add(secrets, s3.secretRef, key)
      for (const key of ["BUCKET_NAME", "BUCKET_HOST", "BUCKET_PORT", "BUCKET_REGION"]) add(configMaps, configMap, key)
    }
  }
  for (const entry of env ?? []) {
    add(secrets, entry.valueFrom?.secretKeyRef?.name, entry.valueFrom?.secretKeyRef?.key)
    add(configMaps, entry.valueFrom?.configMapKeyRef?.name, entry.valueFrom?.configMapKeyRef?.key)
  }
  const tls = instance.spec.networking?.tlsSecretRef
  for (const key of ["tls.crt", "tls.key"]) add(secrets, tls, key)
  const instanceSecret = instance.spec.backend.instanceSecretRef
  add(secrets, instanceSecret?.name, instanceSecret?.key)
  add(secrets, instanceSecret?.name, instanceSecret?.nameKey)
  for (const bundle of caBundles(instance))
    add(bundle.kind === "Secret" ? secrets : configMaps, bundle.name, bundle.key)
  return { secrets, configMaps }
}

/**
 * Stand-ins for the Secrets and ConfigMaps the instance refers to. Secret values are never printed (the backend
 * reads them by reference); a database URL stand-in has the shape Convex accepts so the backend is not held back.
 */
const referencedStandIns = (instance: ConvexInstance, namespace: string): Observed["objects"] => {
  const { secrets, configMaps } = referencedKeys(instance)
  const { db } = instance.spec.backend
  // A CA bundle stand-in is shaped like PEM (its content is only hashed, never printed).
  const bundles = caBundles(instance)
  const standIn = (kind: "Secret" | "ConfigMap", name: string, key: string) =>
    bundles.some((bundle) => bundle.kind === kind && bundle.name === name && bundle.key === key)
      ? `-----BEGIN CERTIFICATE-----\n<${kind} ${name} key ${key}>\n-----END CERTIFICATE-----\n`
      : `<${kind} ${name} key ${key}>`
  const instanceSecret = instance.spec.backend.instanceSecretRef
  const secretValue = (name: string, key: string) =>
    db.engine !== "sqlite" && name === db.secretRef && key === db.urlKey
      ? `${db.engine}://user:password@database:${db.engine === "postgres" ? 5432 : 3306}`
      : // An existing instance secret stand-in has the shape Convex accepts (and prints as <generated> where copied).
        name === instanceSecret?.name && key === instanceSecret.key
        ? "0".repeat(64)
        : name === instanceSecret?.name && key === instanceSecret.nameKey
          ? convexInstanceName(instance)
          : standIn("Secret", name, key)
  return [
    ...[...secrets].map(([name, keys]) => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace },
      stringData: Object.fromEntries([...keys].map((key) => [key, secretValue(name, key)]))
    })),
    ...[...configMaps].map(([name, keys]) => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace },
      data: Object.fromEntries([...keys].map((key) => [key, standIn("ConfigMap", name, key)]))
    }))
  ]
}

/** Zero bytes: generated values are deterministic and replaced by the placeholder before printing. */
const placeholderEntropy = { instanceSecret: new Uint8Array(32), adminKeyNonce: new Uint8Array(12) }

/** Replaces every occurrence of the placeholder-entropy secrets (plain or base64) anywhere in `value`. */
const scrub = (value: unknown, secrets: ReadonlyArray<string>): unknown => {
  if (typeof value === "string") return secrets.some((secret) => value.includes(secret)) ? generatedPlaceholder : value
  if (Array.isArray(value)) return value.map((item) => scrub(item, secrets))
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, secrets)]))
  return value
}

/**
 * Every child object the operator would create for `instance`, as `decide` renders it, without a cluster: the
 * generated Secret's values print as `<generated>` (and nowhere else), and the Secrets and ConfigMaps the instance
 * refers to are taken to exist with every key it names. Children carry no owner reference (the instance has no uid
 * before it is created). The cluster is taken to serve PodMonitors. What `convex-operator render` prints.
 */
export const renderInstance = (instance: ConvexInstance, options: RenderInstanceOptions): ReadonlyArray<unknown> => {
  const namespace = instance.metadata.namespace ?? "default"
  const decision = decide(
    instance,
    { objects: referencedStandIns(instance, namespace), entropy: placeholderEntropy },
    new Date(0),
    // As in a cluster with the Prometheus Operator: an instance with metrics enabled shows its PodMonitor.
    { operator: { image: options.operatorImage }, podMonitors: true }
  )
  const secretsName = childNames(instance.metadata.name ?? "").secrets
  const generated = decision.desired.find((object) => object.kind === "Secret" && object.metadata.name === secretsName)
  const values =
    generated?.kind === "Secret"
      ? Object.values(generated.data).flatMap((encoded) => [encoded, fromBase64(encoded)])
      : []
  return decision.desired.map((object) => {
    if (object === generated) {
      const { data: _data, ...rest } = object
      return {
        ...rest,
        stringData: { [secretKeys.adminKey]: generatedPlaceholder, [secretKeys.instanceSecret]: generatedPlaceholder }
      }
    }
    return scrub(object, values)
  })
}
