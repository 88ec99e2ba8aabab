/**
 * `convex-operator migrate`: the manifests that move an existing deployment in, checked before they are printed:
 * the old INSTANCE_NAME from the admin key, the INSTANCE_SECRET kept (and checked against the key), the restore
 * from the live deployment; no secret value in any error or note.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { decodeConvexInstance, issueAdminKey } from "@convex-operator/core"
import { KubeClient, type KubeObject, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Option, Redacted } from "effect"
import { parseAllDocuments } from "yaml"
import { applyMigration, type MigrationInput, migrationManifests } from "../src/cli/migrate.js"
import { ConvexInstances } from "../src/shell/resources.js"
import { captureConsole, runConvexOperator } from "./support/cli-run.js"

const oldSecret = "4361726e697461732c206c69746572616c6c79206d65616e696e6720226c6974"
const otherSecret = "ab".repeat(32)
const version = "0123456789abcdef0123456789abcdef01234567"
const keyFor = (name: string, secret: string) =>
  Either.getOrThrow(
    issueAdminKey({ instanceName: name, instanceSecret: secret, issuedAt: 1_700_000_000, nonce: new Uint8Array(12) })
  )
const oldKey = keyFor("convex-self-hosted", oldSecret)

const input = (extra: Partial<MigrationInput> = {}): MigrationInput => ({
  fromUrl: "https://convex.example.com",
  adminKey: Redacted.make(oldKey),
  instanceSecret: Option.some(Redacted.make(oldSecret)),
  name: Option.none(),
  namespace: Option.some("apps"),
  version,
  environment: "prod",
  ...extra
})

// biome-ignore lint/suspicious/noExplicitAny: manifests, checked by the assertions
type Json = any

const failure = (migration: ReturnType<typeof migrationManifests>) =>
  Either.match(migration, { onLeft: (error) => error.message, onRight: () => "" })

describe("migrate: the manifests", () => {
  it("keeps the old INSTANCE_NAME and INSTANCE_SECRET and restores from the live deployment", () => {
    const migration = Either.getOrThrow(migrationManifests(input()))
    expect(migration.notes).toEqual([])
    expect(migration.secrets.map((secret) => secret.metadata.name)).toEqual([
      "convex-self-hosted-old-admin-key",
      "convex-self-hosted-instance-secret"
    ])
    expect((migration.secrets[0] as Json).stringData).toEqual({ ADMIN_KEY: oldKey })
    expect((migration.secrets[1] as Json).stringData).toEqual({
      INSTANCE_SECRET: oldSecret,
      INSTANCE_NAME: "convex-self-hosted"
    })
    const instance = migration.instance as Json
    expect(instance.metadata).toEqual({ name: "convex-self-hosted", namespace: "apps" })
    expect(instance.spec).toEqual({
      environment: "prod",
      version,
      backend: {
        instanceSecretRef: {
          name: "convex-self-hosted-instance-secret",
          key: "INSTANCE_SECRET",
          nameKey: "INSTANCE_NAME"
        }
      },
      restore: {
        from: {
          deployment: {
            url: "https://convex.example.com",
            adminKeySecretRef: { name: "convex-self-hosted-old-admin-key", key: "ADMIN_KEY" }
          }
        }
      }
    })
    expect(Either.isRight(decodeConvexInstance(instance))).toBe(true)
  })

  it("another name keeps the old INSTANCE_NAME through db.databaseName", () => {
    const migration = Either.getOrThrow(migrationManifests(input({ name: Option.some("app") })))
    const instance = migration.instance as Json
    expect(instance.metadata.name).toBe("app")
    expect(instance.spec.backend.db).toEqual({ databaseName: "convex_self_hosted" })
    expect(migration.secrets.map((secret) => secret.metadata.name)).toEqual([
      "app-old-admin-key",
      "app-instance-secret"
    ])
  })

  it("without the instance secret: a new secret, and a note that old keys stop working", () => {
    const migration = Either.getOrThrow(
      migrationManifests(input({ instanceSecret: Option.none(), name: Option.some("app") }))
    )
    expect(migration.secrets).toHaveLength(1)
    expect((migration.instance as Json).spec.backend).toBeUndefined()
    expect(migration.notes.join("\n")).toContain("admin keys of the old deployment will not work on it")
    expect(migration.notes.join("\n")).toContain("convex-operator admin-key get app -n apps")
  })

  it("refuses what would not work, naming the flag and never a secret value", () => {
    const messages = [
      failure(migrationManifests(input({ instanceSecret: Option.some(Redacted.make(otherSecret)) }))),
      failure(migrationManifests(input({ instanceSecret: Option.some(Redacted.make(oldSecret.slice(1))) }))),
      failure(migrationManifests(input({ adminKey: Redacted.make("no-separator") }))),
      failure(migrationManifests(input({ adminKey: Redacted.make(`Bad_Name|${oldKey.split("|")[1]}`) }))),
      failure(migrationManifests(input({ fromUrl: "convex.example.com" }))),
      failure(migrationManifests(input({ fromUrl: "ftp://convex.example.com" }))),
      failure(migrationManifests(input({ version: "" })))
    ]
    expect(messages[0]).toContain("--admin-key-file and --instance-secret-file do not belong together")
    expect(messages[1]).toContain("--instance-secret-file: the instance secret has 63 characters instead of 64")
    expect(messages[2]).toContain("--admin-key-file: the file does not hold an admin key")
    expect(messages[3]).toContain("--admin-key-file: the instance name before '|'")
    expect(messages[4]).toContain("--from-url convex.example.com: not a URL")
    expect(messages[5]).toContain("use an http:// or https:// URL")
    expect(messages[6]).toContain("the ConvexInstance would be invalid")
    for (const message of messages) {
      expect(message).not.toBe("")
      for (const secret of [oldSecret, otherSecret, oldKey.split("|")[1] ?? ""]) expect(message).not.toContain(secret)
    }
  })
})

const run = (...args: ReadonlyArray<string>) => runConvexOperator(...args)

describe("migrate: the command", () => {
  const folder = mkdtempSync(join(tmpdir(), "convex-operator-migrate-"))
  const file = (name: string, content: string) => {
    writeFileSync(join(folder, name), `${content}\n`)
    return join(folder, name)
  }

  it.live("prints the Secrets and the ConvexInstance as YAML, ready for kubectl apply", () =>
    Effect.gen(function* () {
      const { exit, stdout } = yield* run(
        "migrate",
        "--from-url",
        "http://convex-backend.old.svc:3210",
        "--admin-key-file",
        file("key", oldKey),
        "--instance-secret-file",
        file("secret", oldSecret),
        "--version",
        version,
        "--name",
        "app",
        "-n",
        "apps"
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      const objects = parseAllDocuments(stdout).map((document) => document.toJS() as Json)
      expect(objects.map((object) => `${object.kind}/${object.metadata.namespace}/${object.metadata.name}`)).toEqual([
        "Secret/apps/app-old-admin-key",
        "Secret/apps/app-instance-secret",
        "ConvexInstance/apps/app"
      ])
      expect(objects[2].spec.restore.from.deployment.url).toBe("http://convex-backend.old.svc:3210")
    })
  )

  it.live("an error names the flag; nothing is printed", () =>
    Effect.gen(function* () {
      const { exit, stdout } = yield* run(
        "migrate",
        "--from-url",
        "https://convex.example.com",
        "--admin-key-file",
        file("key2", oldKey),
        "--instance-secret-file",
        file("secret2", otherSecret),
        "--version",
        version
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect(stdout).toBe("")
      expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain("do not belong together")
    })
  )
})

describe("migrate --apply", () => {
  const capture = captureConsole

  it.effect("creates the Secrets and the instance once; a second run changes nothing", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const migration = Either.getOrThrow(migrationManifests(input({ namespace: Option.some("apps") })))
      const first = yield* capture(applyMigration(migration, "apps"))
      expect(Exit.isSuccess(first.exit)).toBe(true)
      expect(first.output).toContain("secret/convex-self-hosted-instance-secret created")
      expect(first.output).toContain("convexinstance/convex-self-hosted created")
      const secret = (yield* kube.get(Resource.Secret, "convex-self-hosted-instance-secret", {
        namespace: "apps"
      })) as Json
      expect(Buffer.from(secret.data.INSTANCE_SECRET, "base64").toString()).toBe(oldSecret)
      expect(secret.stringData).toBeUndefined()
      const instance = (yield* kube.get(ConvexInstances, "convex-self-hosted", { namespace: "apps" })) as Json
      expect(instance.spec.restore.from.deployment.adminKeySecretRef.name).toBe("convex-self-hosted-old-admin-key")
      const second = yield* capture(applyMigration(migration, "apps"))
      expect(Exit.isSuccess(second.exit)).toBe(true)
      expect(second.output).toContain("secret/convex-self-hosted-instance-secret unchanged")
      expect(second.output).toContain("convexinstance/convex-self-hosted exists (not changed)")
      const after = yield* kube.get(Resource.Secret, "convex-self-hosted-instance-secret", { namespace: "apps" })
      expect(after.metadata.resourceVersion).toBe(secret.metadata.resourceVersion)
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.effect("an existing Secret with other values is not changed, and stops the run before the instance", () =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const existing = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "convex-self-hosted-instance-secret", namespace: "apps" },
        data: { INSTANCE_SECRET: Buffer.from(otherSecret).toString("base64") }
      } as unknown as KubeObject
      yield* kube.create(Resource.Secret, existing)
      const before = yield* kube.get(Resource.Secret, "convex-self-hosted-instance-secret", { namespace: "apps" })
      const migration = Either.getOrThrow(migrationManifests(input()))
      const { exit, output } = yield* capture(applyMigration(migration, "apps"))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain(
        "Secret apps/convex-self-hosted-instance-secret exists with other values and was not changed"
      )
      expect(String(exit) + output).not.toContain(oldSecret)
      expect(String(exit) + output).not.toContain(otherSecret)
      const after = yield* kube.get(Resource.Secret, "convex-self-hosted-instance-secret", { namespace: "apps" })
      expect(after).toEqual(before)
      const instance = yield* kube.get(ConvexInstances, "convex-self-hosted", { namespace: "apps" }).pipe(Effect.option)
      expect(Option.isNone(instance)).toBe(true)
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )
})
