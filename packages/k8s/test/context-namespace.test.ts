/** The namespace commands use without `-n`: the kubeconfig context's, as kubectl does. */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { KubeClient } from "../src/index.js"

const kubeconfig = (context: Record<string, string>) => {
  const file = join(mkdtempSync(join(tmpdir(), "context-namespace-")), "kubeconfig")
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:6443" } }],
      users: [{ name: "u", user: { token: "t" } }],
      contexts: [
        { name: "other", context: { cluster: "c", user: "u", namespace: "elsewhere" } },
        { name: "current", context: { cluster: "c", user: "u", ...context } }
      ],
      "current-context": "current"
    })
  )
  return file
}

describe("KubeClient.contextNamespace", () => {
  it.effect("is the current context's namespace", () =>
    Effect.gen(function* () {
      const path = kubeconfig({ namespace: "team-a" })
      expect(yield* KubeClient.contextNamespace({ _tag: "File", path })).toBe("team-a")
      expect(yield* KubeClient.contextNamespace({ _tag: "File", path, context: "other" })).toBe("elsewhere")
    })
  )

  it.effect("is default when the context names none", () =>
    Effect.gen(function* () {
      const path = kubeconfig({})
      expect(yield* KubeClient.contextNamespace({ _tag: "File", path })).toBe("default")
    })
  )

  it.effect("fails with a KubeConfigError naming the problem when the file cannot be read", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(KubeClient.contextNamespace({ _tag: "File", path: "/nonexistent/kubeconfig" }))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(exit)).toContain("loading kubeconfig")
    })
  )
})
