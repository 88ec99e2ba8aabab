import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  childNames,
  configHashAnnotation,
  decide,
  decodeConvexInstance,
  generatedPlaceholder,
  secretKeys
} from "@convex-operator/core"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { cli } from "convex-operator"
import { Effect, Either, Exit, Option } from "effect"
import { parseAllDocuments } from "yaml"
import { repoRoot } from "../../../test/support/manifests.js"
import { renderManifests } from "../src/cli/render.js"

const version = "0123456789abcdef0123456789abcdef01234567"
const options = { namespace: Option.none(), operatorImage: "example.com/operator:1", source: "test.yaml" }

// biome-ignore lint/suspicious/noExplicitAny: rendered YAML, checked by the assertions
type Json = Record<string, any>

const render = (text: string, namespace?: string): ReadonlyArray<Json> => {
  const result = renderManifests(text, {
    ...options,
    namespace: namespace === undefined ? Option.none() : Option.some(namespace)
  })
  if (Either.isLeft(result)) throw new Error(result.left.message)
  return parseAllDocuments(result.right).map((document) => {
    expect(document.errors).toEqual([])
    return document.toJS() as Json
  })
}

const renderError = (text: string, namespace?: string): string => {
  const result = renderManifests(text, {
    ...options,
    namespace: namespace === undefined ? Option.none() : Option.some(namespace)
  })
  if (Either.isRight(result)) throw new Error("expected render to fail")
  return result.left.message
}

const example = (file: string) => readFileSync(join(repoRoot, "examples", file), "utf8")
const find = (objects: ReadonlyArray<Json>, kind: string, name: string) =>
  objects.find((object) => object.kind === kind && object.metadata.name === name)

const instanceYaml = (name: string, spec: Json, namespace?: string) =>
  JSON.stringify({
    apiVersion: "convex.icod.de/v1alpha1",
    kind: "ConvexInstance",
    metadata: { name, ...(namespace === undefined ? {} : { namespace }) },
    spec: { environment: "dev", version, ...spec }
  })

/** Anything that looks like a generated or Convex secret: 64 hex characters, an admin key, their base64. */
const secretLike = /[0-9a-f]{64}|\|01[0-9a-f]{16,}|MDAwMDAwMDAwMDAw/

describe("convex-operator render", () => {
  it("renders every sample with its backend, and no secret value", () => {
    for (const file of ["hello-world.yaml", "dev-sqlite.yaml", "prod-postgres-s3.yaml", "obc.yaml"]) {
      const text = example(file)
      const output = Either.getOrThrow(renderManifests(text, options))
      expect(output).not.toMatch(secretLike)
      const objects = render(text)
      const name = parseAllDocuments(text)
        .map((d) => d.toJS() as Json)
        .find((o) => o.kind === "ConvexInstance")?.metadata.name as string
      const names = childNames(name)
      for (const [kind, child] of [
        ["ConfigMap", names.backendConfig],
        ["Secret", names.secrets],
        ["Service", names.backend],
        ["StatefulSet", names.backend]
      ] as const) {
        expect(find(objects, kind, child), `${file}: ${kind} ${child}`).toBeDefined()
      }
      expect(find(objects, "Secret", names.secrets)).toMatchObject({
        stringData: { [secretKeys.adminKey]: generatedPlaceholder, [secretKeys.instanceSecret]: generatedPlaceholder }
      })
      expect(find(objects, "Secret", names.secrets)?.data).toBeUndefined()
      for (const object of objects) {
        expect(object.metadata.namespace).toBe("default")
        expect(object.metadata.ownerReferences).toBeUndefined()
      }
    }
  })

  it("prints the objects decide wants, in decide's order, the same every time", () => {
    const text = example("dev-sqlite.yaml")
    const objects = render(text)
    const instance = Either.getOrThrow(
      decodeConvexInstance({ ...(parseAllDocuments(text)[0]?.toJS() as Json), metadata: { name: "convex-dev" } })
    )
    const entropy = { instanceSecret: new Uint8Array(32).fill(7), adminKeyNonce: new Uint8Array(12).fill(9) }
    const desired = decide(instance, { objects: [], entropy }, new Date(), {
      operator: { image: "example.com/operator:1" }
    }).desired
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(
      desired.map((o) => `${o.kind}/${o.metadata.name}`)
    )
    // Everything but the generated Secret (and the pod-template hash, which covers its values) is what decide renders.
    const comparable = (list: ReadonlyArray<unknown>) =>
      JSON.parse(JSON.stringify(list.filter((o) => (o as Json).kind !== "Secret")), (key, value) =>
        key === configHashAnnotation ? undefined : value
      )
    expect(comparable(objects)).toEqual(comparable(desired))
    expect(renderManifests(text, options)).toEqual(renderManifests(text, options))
    expect(objects.map((o) => o.kind)).toEqual(expect.arrayContaining(["Gateway", "HTTPRoute", "Deployment"]))
  })

  it("wires referenced Secrets by reference and never prints their stand-in values", () => {
    const objects = render(example("prod-postgres-s3.yaml"))
    const sts = find(objects, "StatefulSet", "convex-prod-backend")
    expect(sts?.spec.template.spec.containers[0].env).toContainEqual({
      name: "POSTGRES_URL",
      valueFrom: { secretKeyRef: { name: "convex-prod-db", key: "url" } }
    })
    const text = JSON.stringify(objects)
    expect(text).not.toContain("user:password@database")
    expect(text).not.toContain("<Secret ")
  })

  it("keeps the admin key out of a dashboard that prefills it", () => {
    const objects = render(instanceYaml("pre", { dashboard: { prefillAdminKey: true } }))
    const dashboard = find(objects, "Deployment", "pre-dashboard")
    expect(dashboard?.spec.template.spec.containers[0].env).toContainEqual({
      name: "NEXT_PUBLIC_ADMIN_KEY",
      valueFrom: { secretKeyRef: { name: "pre-convex-secrets", key: secretKeys.adminKey } }
    })
    expect(JSON.stringify(objects)).not.toMatch(secretLike)
  })

  it("renders an Ingress in ingress mode, and every instance of a multi-document file", () => {
    const text = [
      instanceYaml("one", { networking: { host: "one.example.com", mode: "ingress", ingressClassName: "nginx" } }),
      instanceYaml("two", {})
    ].join("\n---\n")
    const objects = render(text)
    expect(find(objects, "Ingress", "one-ingress")?.spec.rules[0].host).toBe("one.example.com")
    expect(objects.some((o) => o.kind === "Gateway" || o.kind === "HTTPRoute")).toBe(false)
    expect(find(objects, "StatefulSet", "two-backend")).toBeDefined()
  })

  it("puts instances without a namespace into -n, and refuses a document naming another one", () => {
    for (const object of render(instanceYaml("ns", {}), "team-a")) expect(object.metadata.namespace).toBe("team-a")
    for (const object of render(instanceYaml("ns", {}, "team-b"))) expect(object.metadata.namespace).toBe("team-b")
    expect(renderError(instanceYaml("ns", {}, "team-b"), "team-a")).toMatch(
      /test\.yaml#0 \(ConvexInstance ns\): its namespace "team-b" does not match the namespace "team-a"/
    )
  })

  it("names the document and every invalid field", () => {
    const message = renderError(
      `${instanceYaml("ok", {})}\n---\n${instanceYaml("bad", { environment: "staging", backend: { db: { engine: "postgres" } } })}`
    )
    expect(message).toMatch(/^test\.yaml#1 \(ConvexInstance bad\) is invalid: /)
    expect(message).toContain("spec.environment")
    expect(message).toMatch(/secretRef/)
  })

  it("says when the file holds no ConvexInstance, or is not YAML", () => {
    expect(renderError("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")).toBe(
      "test.yaml: no ConvexInstance in it"
    )
    expect(renderError("a: [1\n")).toMatch(/^test\.yaml#0: not YAML/)
  })

  it.live("the command reads the file and prints multi-document YAML; a missing file is a clear error", () =>
    Effect.gen(function* () {
      const file = join(mkdtempSync(join(tmpdir(), "convex-operator-render-")), "instance.yaml")
      writeFileSync(file, instanceYaml("cmd", {}))
      const out: Array<string> = []
      const capture = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.consoleWith((console) =>
          effect.pipe(
            Effect.withConsole({
              ...console,
              log: (...parts: ReadonlyArray<unknown>) => Effect.sync(() => void out.push(parts.join(" ")))
            })
          )
        )
      yield* capture(cli(["node", "convex-operator", "render", "-f", file, "-n", "prod"]))
      const text = out.join("\n")
      expect(text.startsWith("---\napiVersion: v1\nkind: ConfigMap\n")).toBe(true)
      expect(text).toContain("name: cmd-backend\n  namespace: prod")
      const missing = yield* Effect.exit(cli(["node", "convex-operator", "render", "-f", `${file}.absent`]))
      expect(Exit.isFailure(missing) && String(missing.cause)).toMatch(/cannot read .*instance\.yaml\.absent/)
    }).pipe(Effect.provide(NodeContext.layer))
  )
})
