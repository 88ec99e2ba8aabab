/**
 * A private CA for the backup, removal and restore Jobs: the S3 target's (or restore location's) own `caSecretRef`
 * or `caConfigMapRef`, only its `caKey`, mounted read-only at `/convex/tls/s3/ca.crt` in the containers that talk
 * to the bucket (`store`, `remove`, `fetch`). Those run the operator's CLI on Node, whose S3 client (the AWS SDK's
 * Node handler, over `https.Agent`) trusts what `NODE_EXTRA_CA_CERTS` names besides Node's own roots; Node reads
 * that variable once at start. The containers that only call the backend (`export`, `import`) get nothing.
 *
 * The Jobs never take the bundle from `backend.s3`: a backup's spec is immutable and says all the Job needs, so a
 * later edit of the instance cannot change what a backup or its removal trusts (SPEC.md, "Private certificate
 * authorities").
 *
 * @module
 */
import type { EnvVar } from "../api/index.js"
import { defaultCaKey } from "./ca-bundles.js"
import type { Volume } from "./objects.js"

/** The CA fields of an S3 target or location. */
export interface JobCaFields {
  readonly caSecretRef?: string | undefined
  readonly caConfigMapRef?: string | undefined
  readonly caKey?: string | undefined
}

/** Where the bundle is mounted, and the file `NODE_EXTRA_CA_CERTS` names. */
export const jobCaDirectory = "/convex/tls/s3"
export const jobCaFile = `${jobCaDirectory}/ca.crt`
const volumeName = "s3-ca"

/** What a Job adds for a private CA: one volume, and the mount and variable of each container that talks to S3. */
export interface JobCa {
  readonly volume: Volume
  readonly mount: { readonly name: string; readonly mountPath: string; readonly readOnly: true }
  readonly env: EnvVar
}

/** The bundle an S3 target or location names: the object, its kind and the key read from it. */
export const jobCaBundle = (
  s3: JobCaFields
): { readonly kind: "Secret" | "ConfigMap"; readonly name: string; readonly key: string } | undefined => {
  const key = s3.caKey ?? defaultCaKey
  if (s3.caSecretRef !== undefined) return { kind: "Secret", name: s3.caSecretRef, key }
  if (s3.caConfigMapRef !== undefined) return { kind: "ConfigMap", name: s3.caConfigMapRef, key }
  return undefined
}

/** The volume, mount and variable of the bundle `s3` names; undefined without one. */
export const jobCa = (s3: JobCaFields): JobCa | undefined => {
  const bundle = jobCaBundle(s3)
  if (bundle === undefined) return undefined
  const items = [{ key: bundle.key, path: "ca.crt" }]
  return {
    volume:
      bundle.kind === "Secret"
        ? { name: volumeName, secret: { secretName: bundle.name, items } }
        : { name: volumeName, configMap: { name: bundle.name, items } },
    mount: { name: volumeName, mountPath: jobCaDirectory, readOnly: true },
    env: { name: "NODE_EXTRA_CA_CERTS", value: jobCaFile }
  }
}

/**
 * What keeps a Job's pod from trusting the bundle `s3` names, as a message naming the field (`<field>.caSecretRef`
 * or `…caConfigMapRef`), the object and the key; undefined when nothing does or no bundle is named. `data` is the
 * object's data (Secret values decoded), undefined when the object does not exist. Never quotes a value.
 */
export const jobCaProblem = (
  s3: JobCaFields,
  field: string,
  data: Readonly<Record<string, string>> | undefined
): string | undefined => {
  const bundle = jobCaBundle(s3)
  if (bundle === undefined) return undefined
  const at = `${field}.${bundle.kind === "Secret" ? "caSecretRef" : "caConfigMapRef"}`
  if (data === undefined) {
    return `${at}: ${bundle.kind} "${bundle.name}" does not exist: create it with the S3 endpoint's CA (PEM) under key "${bundle.key}"`
  }
  const value = data[bundle.key]
  if (value === undefined || value === "") {
    return `${at}: ${bundle.kind} "${bundle.name}" has no key "${bundle.key}" (set ${field}.caKey to the key that holds the S3 endpoint's CA)`
  }
  if (!value.includes("-----BEGIN CERTIFICATE-----")) {
    return `${at}: ${bundle.kind} "${bundle.name}" key "${bundle.key}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`
  }
  return undefined
}
