/**
 * convex-admin-key: issue and check Convex admin keys offline, from an instance secret in a file or in a Kubernetes
 * Secret as `kubectl get secret <name>-convex-secrets -o json` prints it. Written against the published API only.
 *
 *   convex-admin-key issue  --instance <name> --secret <file|-> [--read-only]
 *   convex-admin-key verify --instance <name> --secret <file|-> [--key <file>]
 *
 * `verify` checks the key in `--key`, or else the Secret's own `admin-key`. It exits 0 when the backend with that
 * INSTANCE_NAME and INSTANCE_SECRET would accept the key, 1 when not (saying why), 2 on bad usage. Neither the secret
 * nor the key is ever printed, except the key that `issue` prints.
 */
import { readFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { checkAdminKey, issueAdminKey, secretKeys } from "@convex-operator/core"
import { Either } from "effect"

const usage = "usage: convex-admin-key issue|verify --instance <name> --secret <file|-> [--key <file>] [--read-only]"

const fail = (code: number, message: string): never => {
  console.error(`convex-admin-key: ${message}`)
  process.exit(code)
}

const read = (file: string) => readFileSync(file === "-" ? 0 : file, "utf8").trim()

/** The instance secret, and the Secret's admin key if it has one: from a Kubernetes Secret's JSON, or plain hex. */
const readSecret = (file: string): { readonly instanceSecret: string; readonly adminKey: string | undefined } => {
  const text = read(file)
  if (!text.startsWith("{")) return { instanceSecret: text, adminKey: undefined }
  const secret = JSON.parse(text) as { kind?: string; data?: Record<string, string> }
  const decoded = (key: string) => {
    const value = secret.data?.[key]
    return value === undefined
      ? undefined
      : new TextDecoder().decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0)))
  }
  const instanceSecret = decoded(secretKeys.instanceSecret)
  if (secret.kind !== "Secret" || instanceSecret === undefined)
    return fail(2, `${file} is neither a hex instance secret nor a Secret with the key "${secretKeys.instanceSecret}"`)
  return { instanceSecret, adminKey: decoded(secretKeys.adminKey) }
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    instance: { type: "string" },
    secret: { type: "string" },
    key: { type: "string" },
    "read-only": { type: "boolean", default: false }
  }
})
const [command] = positionals
if ((command !== "issue" && command !== "verify") || values.instance === undefined || values.secret === undefined)
  fail(2, usage)
const instanceName = values.instance as string
const { instanceSecret, adminKey } = readSecret(values.secret as string)

if (command === "issue") {
  const issued = issueAdminKey({
    instanceName,
    instanceSecret,
    issuedAt: Math.floor(Date.now() / 1000),
    nonce: crypto.getRandomValues(new Uint8Array(12)),
    readOnly: values["read-only"]
  })
  // The errors of core never contain the secret.
  if (Either.isLeft(issued)) fail(1, issued.left.message)
  else console.log(issued.right)
} else {
  const key = values.key === undefined ? adminKey : read(values.key)
  if (key === undefined) fail(2, "no --key given and the Secret has no admin-key")
  const checked = checkAdminKey(key as string, instanceName, instanceSecret)
  if (Either.isLeft(checked)) fail(1, `not accepted: ${checked.left.message}`)
  else {
    const { issuedAt, readOnly } = checked.right
    const issued = new Date(Number(issuedAt) * 1000).toISOString()
    console.log(`accepted: ${readOnly ? "read-only " : ""}admin key for instance ${instanceName}, issued ${issued}`)
  }
}
