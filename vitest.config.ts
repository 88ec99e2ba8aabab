import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = (pkg: string, entry = "index") =>
  fileURLToPath(new URL(`./packages/${pkg}/src/${entry}.ts`, import.meta.url))

// Tests import the workspace packages from their TypeScript sources, so no build is needed first.
// The subpath comes first: an alias also matches what starts with its name and a slash.
const alias = {
  "@convex-operator/core/internal": src("core", "internal/index"),
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
          environment: "node",
          // Unit tests run beside the cluster tiers in one `npm test` on a small machine: property tests that take
          // 1.5 s alone have come near the default 5 s there. A test that hangs still fails, 10 s later.
          testTimeout: 15_000
        }
      },
      {
        test: {
          // What users get: npm pack of the libraries in a scratch project (no aliases: it runs the packed build).
          name: "release",
          include: ["test/release/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 150_000
        }
      },
      {
        resolve: { alias },
        test: {
          // A real etcd + kube-apiserver (+ controllers, scheduler, kwok) on 127.0.0.1; binaries are
          // built from Go modules into ~/.cache/convex-operator by the globalSetup (see test/cluster/README.md).
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/integration/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          teardownTimeout: 30_000
        }
      },
      {
        resolve: { alias },
        test: {
          // The operator as a separate process against the full local cluster, driven with kubectl.
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/e2e/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          teardownTimeout: 60_000
        }
      },
      {
        resolve: { alias },
        test: {
          // The operator image built from the Dockerfile with podman and run: alone, and against the full local
          // cluster (test/image/global-setup.ts builds it; see test/image/README.md).
          name: "image",
          include: ["test/image/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/image/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 240_000,
          teardownTimeout: 60_000
        }
      }
    ]
  }
})
