/**
 * The data side of backup Jobs: report a ZIP's size and location (`backup store`), upload it to S3-compatible
 * storage on the way, and download one for a restore (`backup fetch`). S3 goes through the AWS SDK
 * (`@aws-sdk/client-s3`, multipart uploads with `@aws-sdk/lib-storage`): no hand-written request signing.
 * Credentials come from the standard `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` variables and are never printed.
 * HTTPS endpoints are verified against Node's roots plus the file `NODE_EXTRA_CA_CERTS` names (a Job mounts a
 * private CA there): the SDK's Node handler connects through `https.Agent`, which uses Node's default trust.
 *
 * @module
 */
import { createReadStream, createWriteStream, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import type { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { DeleteObjectCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { Upload } from "@aws-sdk/lib-storage"
import { Data, Effect } from "effect"

/** A bucket object and how to reach it. */
export interface S3Object {
  readonly bucket: string
  readonly key: string
  readonly region: string
  readonly endpoint?: string | undefined
  readonly forcePathStyle: boolean
  /** Limits of each request (defaults: {@link defaultTimeouts}). */
  readonly timeouts?: Timeouts | undefined
}

/** How long a connection may take to open, and a request may sit idle, before the attempt fails. */
export interface Timeouts {
  readonly connectMillis: number
  readonly idleMillis: number
}

/**
 * Without limits an endpoint that never answers (a dropped SYN, a server that accepts and says nothing) would hold
 * a backup Job, and with it every later backup and upgrade of the instance, for ever. The SDK tries 3 times.
 */
export const defaultTimeouts: Timeouts = { connectMillis: 30_000, idleMillis: 120_000 }

export class TransferError extends Data.TaggedError("TransferError")<{ readonly message: string }> {}

const client = (object: S3Object) => {
  const timeouts = object.timeouts ?? defaultTimeouts
  return new S3Client({
    region: object.region,
    forcePathStyle: object.forcePathStyle,
    requestHandler: { connectionTimeout: timeouts.connectMillis, socketTimeout: timeouts.idleMillis },
    ...(object.endpoint !== undefined ? { endpoint: object.endpoint } : {})
  })
}

/** Node's codes for a server certificate no trusted CA signed (a private CA the Job was not given). */
const untrustedCertificate =
  "the endpoint's certificate is not signed by a CA this Job trusts: name its CA with caSecretRef or " +
  "caConfigMapRef (and caKey) on the S3 target or restore location"

/** What to check, by the error name of an S3 answer or the code of a failed connection. */
const hints: Readonly<Record<string, string>> = {
  SELF_SIGNED_CERT_IN_CHAIN: untrustedCertificate,
  DEPTH_ZERO_SELF_SIGNED_CERT: untrustedCertificate,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: untrustedCertificate,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: untrustedCertificate,
  ERR_TLS_CERT_ALTNAME_INVALID:
    "the endpoint's certificate does not name the endpoint's host: check the endpoint, or the certificate's names",
  CERT_HAS_EXPIRED: "the endpoint's certificate has expired: renew it",
  InvalidAccessKeyId: "the server does not know this access key id: check the access key id in the credentials Secret",
  SignatureDoesNotMatch:
    "the server refused the request's signature: check the secret access key in the credentials Secret",
  AccessDenied: "the credentials may not do this: check the access they were given on the bucket",
  NoSuchBucket: "the bucket does not exist: create it, or check the bucket name",
  ECONNREFUSED: "nothing accepts connections at the endpoint: check the endpoint's host and port, and that it runs",
  ENOTFOUND: "the endpoint's host name does not resolve: check the endpoint",
  EAI_AGAIN: "the endpoint's host name could not be resolved now: check the endpoint and the cluster's DNS",
  ETIMEDOUT: "the endpoint did not answer in time: check the endpoint and the network between",
  TimeoutError: "the endpoint did not answer in time: check the endpoint and the network between",
  ECONNRESET: "the endpoint closed the connection: check that the endpoint speaks S3 over this scheme (http/https)"
}

/**
 * One line about a failed transfer: the error's name and message (or its code, when a failed connection leaves
 * the message empty), and what to check. The SDK's errors carry no credentials, and neither does this line.
 */
export const describe = (cause: unknown): string => {
  if (!(cause instanceof Error)) return String(cause)
  const code = (cause as { code?: unknown }).code
  const text = cause.message !== "" ? cause.message : typeof code === "string" ? code : "no message"
  const said = `${cause.name === "Error" ? "" : `${cause.name}: `}${text}`
  const hint = hints[cause.name] ?? (typeof code === "string" ? hints[code] : undefined)
  return hint === undefined ? said : `${said} (${hint})`
}

/** Uploads `file` to `object` (multipart for large files). */
export const upload = (file: string, object: S3Object) =>
  Effect.tryPromise({
    try: async () => {
      const s3 = client(object)
      try {
        await new Upload({
          client: s3,
          params: {
            Bucket: object.bucket,
            Key: object.key,
            Body: createReadStream(file),
            ContentType: "application/zip"
          }
        }).done()
      } finally {
        s3.destroy()
      }
    },
    catch: (cause) =>
      new TransferError({ message: `uploading to s3://${object.bucket}/${object.key}: ${describe(cause)}` })
  })

/** Downloads `object` to `file` (through a temporary file renamed into place when complete). */
export const download = (object: S3Object, file: string) =>
  Effect.tryPromise({
    try: async () => {
      const partial = join(dirname(file), `.partial-${basename(file)}`)
      const s3 = client(object)
      try {
        const answer = await s3.send(new GetObjectCommand({ Bucket: object.bucket, Key: object.key }))
        if (answer.Body === undefined) throw new Error("the object has no body")
        await pipeline(answer.Body as Readable, createWriteStream(partial))
        renameSync(partial, file)
      } catch (error) {
        rmSync(partial, { force: true })
        throw error
      } finally {
        s3.destroy()
      }
    },
    catch: (cause) =>
      new TransferError({ message: `downloading s3://${object.bucket}/${object.key}: ${describe(cause)}` })
  })

/** The size of `file`, or a clear failure when the export left nothing there. */
export const fileSize = (file: string) =>
  Effect.try({
    try: () => statSync(file).size,
    catch: () => new TransferError({ message: `no snapshot at ${file}: the export step did not write it` })
  })

/** Writes the store report where Kubernetes reads a container's termination message (best effort). */
export const writeTerminationMessage = (path: string, message: string) =>
  Effect.sync(() => {
    try {
      writeFileSync(path, message)
    } catch {
      // Not in a container (a local run): the report is printed anyway.
    }
  })

/** Deletes `object` (deleting an absent key succeeds, as S3 does). */
export const removeObject = (object: S3Object) =>
  Effect.tryPromise({
    try: async () => {
      const s3 = client(object)
      try {
        await s3.send(new DeleteObjectCommand({ Bucket: object.bucket, Key: object.key }))
      } finally {
        s3.destroy()
      }
    },
    catch: (cause) => new TransferError({ message: `deleting s3://${object.bucket}/${object.key}: ${describe(cause)}` })
  })

/** Deletes `file` (an absent file is fine: it is gone either way). */
export const removeFile = (file: string) =>
  Effect.try({
    try: () => rmSync(file, { force: true }),
    catch: (cause) => new TransferError({ message: `deleting ${file}: ${describe(cause)}` })
  })
