import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { crdFiles, decodeAdminKey, verifyAdminKey } from "@convex-operator/core"
import { KubeClient, Resource } from "@convex-operator/k8s"
import { describe, expect, it } from "@effect/vitest"
import { defaultImage } from "convex-operator"
import { Effect, Either, Exit, Redacted } from "effect"
import { parseAllDocuments } from "yaml"
import { repoRoot } from "../../../test/support/manifests.js"
import { readAdminKey } from "../src/cli/admin-key.js"
import { ConvexInstances } from "../src/shell/resources.js"
import { runConvexOperator } from "./support/cli-run.js"

const secret = "4361726e697461732c206c69746572616c6c79206d65616e696e6720226c6974"

/** Runs the CLI with `args`, capturing what it prints. */
const run = runConvexOperator

type Container = { image: string; env: ReadonlyArray<unknown> }

const documents = (text: string) =>
  parseAllDocuments(text)
    .map((document) => document.toJS() as { kind?: string } | null)
    .filter((object) => object !== null)

const secretFile = (content: string) => {
  const file = join(mkdtempSync(join(tmpdir(), "convex-operator-cli-")), "secret")
  writeFileSync(file, `${content}\n`)
  return file
}

describe("convex-operator CLI", () => {
  it.live("--version prints the operator package's version", () =>
    Effect.gen(function* () {
      const { exit, output } = yield* run("--version")
      expect(Exit.isSuccess(exit)).toBe(true)
      const pkg = JSON.parse(readFileSync(join(repoRoot, "packages/operator/package.json"), "utf8")) as {
        version: string
      }
      expect(output.trim()).toBe(pkg.version)
      expect(defaultImage.endsWith(`:${pkg.version}`)).toBe(true)
    })
  )

  it.live("crd prints the committed CRD", () =>
    Effect.gen(function* () {
      const { exit, output } = yield* run("crd")
      expect(Exit.isSuccess(exit)).toBe(true)
      const committed = crdFiles.map((file) => readFileSync(join(repoRoot, file.path), "utf8").replace(/^#.*\n/gm, ""))
      expect(`${output}\n`).toBe(committed.join(""))
      expect(output).toContain("kind: CustomResourceDefinition")
    })
  )

  it.live("manifests prints dist/install.yaml byte for byte (this version's image)", () =>
    Effect.gen(function* () {
      const { exit, output } = yield* run("manifests")
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(`${output}\n`).toBe(readFileSync(join(repoRoot, "dist/install.yaml"), "utf8"))
      expect(output).toContain(`image: ${defaultImage}`)
    })
  )

  it.live("manifests --image X: CRD, Namespace, RBAC and a Deployment running X (also for its snapshot Jobs)", () =>
    Effect.gen(function* () {
      const image = "registry.example.com/team/convex-operator:v9.9.9"
      const { exit, output } = yield* run("manifests", "--image", image)
      expect(Exit.isSuccess(exit)).toBe(true)
      const printed = documents(output)
      expect(printed.map((object) => object.kind)).toEqual([
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Deployment"
      ])
      const committed = [...crdFiles.map((file) => file.path), "config/rbac/role.yaml"].flatMap((file) =>
        documents(readFileSync(join(repoRoot, file), "utf8"))
      )
      for (const object of committed) expect(printed).toContainEqual(object)
      const container = (printed.at(-1) as { spec: { template: { spec: { containers: Array<Container> } } } }).spec
        .template.spec.containers[0]
      expect(container?.image).toBe(image)
      expect(container?.env).toContainEqual({ name: "OPERATOR_IMAGE", value: image })
      expect(output).not.toContain(defaultImage)
    })
  )

  it.live("manifests --without-deployment: dist/install.yaml without the manager Deployment", () =>
    Effect.gen(function* () {
      const { exit, output } = yield* run("manifests", "--without-deployment")
      expect(Exit.isSuccess(exit)).toBe(true)
      const bundle = documents(readFileSync(join(repoRoot, "dist/install.yaml"), "utf8"))
      expect(documents(output)).toEqual(bundle.filter((object) => object.kind !== "Deployment"))
    })
  )

  it.live("manifests --image refuses what is not an image reference", () =>
    Effect.gen(function* () {
      const { exit } = yield* run("manifests", "--image", "--leader-elect")
      expect(Exit.isFailure(exit)).toBe(true)
      const bad = yield* run("manifests", "--image", "Not An Image")
      expect(Exit.isFailure(bad.exit)).toBe(true)
      expect(String(Exit.isFailure(bad.exit) ? bad.exit.cause : "")).toContain("not an image reference")
    })
  )

  it.live("admin-key issues a key the instance secret verifies, for the named instance", () =>
    Effect.gen(function* () {
      const { exit, output } = yield* run("admin-key", "--name", "carnitas", "--secret-file", secretFile(secret))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(output).toMatch(/^carnitas\|01[0-9a-f]+$/)
      expect(verifyAdminKey(output, "carnitas", secret)).toBe(true)
      expect(verifyAdminKey(output, "other", secret)).toBe(false)
      const decoded = Either.getOrThrow(decodeAdminKey(output, secret))
      expect(decoded.readOnly).toBe(false)
    })
  )

  it.live("admin-key issue is the same command", () =>
    Effect.gen(function* () {
      const { exit, output } = yield* run(
        "admin-key",
        "issue",
        "--name",
        "carnitas",
        "--secret-file",
        secretFile(secret)
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(verifyAdminKey(output, "carnitas", secret)).toBe(true)
    })
  )

  it.live("admin-key alone names its two uses", () =>
    Effect.gen(function* () {
      const { exit } = yield* run("admin-key")
      expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(/admin-key get <instance>.*admin-key issue --name/)
    })
  )

  it.live("admin-key get with an unreadable kubeconfig says so", () =>
    Effect.gen(function* () {
      const { exit } = yield* run("admin-key", "get", "carnitas", "--kubeconfig", "/nonexistent/kubeconfig")
      expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(/UserError.*\/nonexistent\/kubeconfig/)
    })
  )

  it.live("admin-key --read-only issues a read-only key", () =>
    Effect.gen(function* () {
      const { output } = yield* run(
        "admin-key",
        "--name",
        "carnitas",
        "--read-only",
        "--secret-file",
        secretFile(secret)
      )
      expect(Either.getOrThrow(decodeAdminKey(output, secret)).readOnly).toBe(true)
    })
  )

  it.live("admin-key without a secret names the ways to give one", () =>
    Effect.gen(function* () {
      const { exit } = yield* run("admin-key", "--name", "carnitas")
      expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(/--secret-file .*CONVEX_INSTANCE_SECRET/)
    })
  )

  it.live("admin-key with a malformed secret says why without printing it", () =>
    Effect.gen(function* () {
      const wrong = `${secret.slice(0, 60)}zzzz`
      const { exit } = yield* run("admin-key", "--name", "carnitas", "--secret-file", secretFile(wrong))
      const message = Exit.isFailure(exit) ? String(exit.cause) : ""
      expect(message).toMatch(/secret/)
      expect(message).not.toContain(wrong)
      expect(message).not.toContain(secret.slice(0, 16))
    })
  )
})

describe("readAdminKey (admin-key get)", () => {
  const key = "carnitas|01abcdef"
  const seed = (objects: { instance: boolean; secret?: Record<string, string> }) =>
    Effect.gen(function* () {
      const kube = yield* KubeClient
      if (objects.instance) {
        yield* kube.create(ConvexInstances, {
          apiVersion: "convex.icod.de/v1alpha1",
          kind: "ConvexInstance",
          metadata: { name: "carnitas", namespace: "team" }
        })
      }
      if (objects.secret !== undefined) {
        yield* kube.create(Resource.Secret, {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "carnitas-convex-secrets", namespace: "team" },
          data: Object.fromEntries(
            Object.entries(objects.secret).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")])
          )
        })
      }
    }).pipe(Effect.orDie)
  const failure = (effect: Effect.Effect<unknown, { message: string }, KubeClient>) =>
    effect.pipe(
      Effect.flip,
      Effect.map((error) => error.message)
    )

  it.effect("reads the admin key of the instance's generated Secret", () =>
    Effect.gen(function* () {
      yield* seed({ instance: true, secret: { "admin-key": key, "instance-secret": secret } })
      expect(Redacted.value(yield* readAdminKey("carnitas", "team"))).toBe(key)
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.effect("names a missing instance and where to look", () =>
    Effect.gen(function* () {
      expect(yield* failure(readAdminKey("carnitas", "team"))).toBe(
        "ConvexInstance team/carnitas not found (kubectl get convexinstances -n team lists the instances there)"
      )
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.effect("names a missing Secret and points at the operator", () =>
    Effect.gen(function* () {
      yield* seed({ instance: true })
      expect(yield* failure(readAdminKey("carnitas", "team"))).toMatch(
        /^Secret team\/carnitas-convex-secrets not found: the operator creates it when it reconciles ConvexInstance team\/carnitas/
      )
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )

  it.effect("names a missing key without printing what the Secret holds", () =>
    Effect.gen(function* () {
      yield* seed({ instance: true, secret: { "instance-secret": secret } })
      const message = yield* failure(readAdminKey("carnitas", "team"))
      expect(message).toMatch(/Secret team\/carnitas-convex-secrets has no key "admin-key"/)
      expect(message).not.toContain(secret)
    }).pipe(Effect.provide(KubeClient.layerMemory()))
  )
})
