/**
 * The local cluster's certificates, made with the `openssl` CLI: a CA, the apiserver's serving cert
 * (127.0.0.1, localhost), an admin client cert (O=system:masters); plus the service-account key pair.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { exec } from "./exec.js"

export interface Pki {
  readonly caFile: string
  readonly caPem: string
  readonly caKeyFile: string
  readonly servingCertFile: string
  readonly servingKeyFile: string
  readonly adminCertFile: string
  readonly adminCertPem: string
  readonly adminKeyFile: string
  readonly adminKeyPem: string
  readonly serviceAccountKeyFile: string
  readonly serviceAccountPublicKeyFile: string
}

const opensslConfig = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = convex-operator-local
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`

const days = "30"
const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

/** Writes every file into `dir` (which must exist). Fails with the reason when `openssl` is missing. */
export const generatePki = (dir: string) =>
  Effect.gen(function* () {
    const file = (name: string) => path.join(dir, name)
    const config = file("openssl.cnf")
    fs.writeFileSync(config, opensslConfig)
    const openssl = (args: ReadonlyArray<string>) => exec("openssl", args, { cwd: dir })

    yield* openssl([
      "req",
      "-x509",
      "-new",
      "-config",
      config,
      "-extensions",
      "ca_ext",
      ...newKey,
      "-keyout",
      file("ca.key"),
      "-out",
      file("ca.crt"),
      "-days",
      days,
      "-subj",
      "/CN=convex-operator-local-ca"
    ])
    const leaf = (name: string, subject: string, extensions: string) =>
      Effect.gen(function* () {
        yield* openssl([
          "req",
          "-new",
          "-config",
          config,
          ...newKey,
          "-keyout",
          file(`${name}.key`),
          "-out",
          file(`${name}.csr`),
          "-subj",
          subject
        ])
        yield* openssl([
          "x509",
          "-req",
          "-in",
          file(`${name}.csr`),
          "-CA",
          file("ca.crt"),
          "-CAkey",
          file("ca.key"),
          "-set_serial",
          `0x${randomBytes(16).toString("hex")}`,
          "-days",
          days,
          "-extfile",
          config,
          "-extensions",
          extensions,
          "-out",
          file(`${name}.crt`)
        ])
      })
    yield* leaf("serving", "/CN=kube-apiserver", "server_ext")
    yield* leaf("admin", "/O=system:masters/CN=convex-operator-admin", "client_ext")

    const serviceAccount = generateKeyPairSync("ec", {
      namedCurve: "P-256",
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" }
    })
    fs.writeFileSync(file("sa.key"), serviceAccount.privateKey, { mode: 0o600 })
    fs.writeFileSync(file("sa.pub"), serviceAccount.publicKey)

    return {
      caFile: file("ca.crt"),
      caPem: fs.readFileSync(file("ca.crt"), "utf8"),
      caKeyFile: file("ca.key"),
      servingCertFile: file("serving.crt"),
      servingKeyFile: file("serving.key"),
      adminCertFile: file("admin.crt"),
      adminCertPem: fs.readFileSync(file("admin.crt"), "utf8"),
      adminKeyFile: file("admin.key"),
      adminKeyPem: fs.readFileSync(file("admin.key"), "utf8"),
      serviceAccountKeyFile: file("sa.key"),
      serviceAccountPublicKeyFile: file("sa.pub")
    } satisfies Pki
  })
