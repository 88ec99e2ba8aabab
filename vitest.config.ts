import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url))

// Tests import the workspace packages from their TypeScript sources, so no build is needed first.
const alias = {
  "@convex-operator/core": src("core"),
  "@convex-operator/k8s": src("k8s"),
  "convex-operator": src("operator")
}

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts"],
          environment: "node"
        }
      }
    ]
  }
})
