/**
 * The operator's installation as objects: the Namespace, the manager Deployment, and the one-file bundle
 * `dist/install.yaml` (CRD + Namespace + RBAC + Deployment). The same objects are written to `config/` for
 * kustomize (`config/manager/manager.yaml`, `config/default/namespace.yaml`) by `npm run generate`, so
 * `kubectl apply -k config/default` and `kubectl apply -f dist/install.yaml` install the same thing (an e2e
 * test renders both and compares them).
 *
 * `npm run build-installer -- --image ghcr.io/x/y:tag [--output dist/install.yaml]` writes the bundle for another
 * image; without `--image` it writes the default image's bundle (the committed, drift-checked one).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { convexInstanceCrd } from "@convex-operator/core"
import { clusterRbac, install, leaderElectionRules, operatorRules, toYaml, yamlDocuments } from "convex-operator"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")

/** The operator's version: the `convex-operator` package's. */
export const operatorVersion: string = (
  JSON.parse(readFileSync(join(root, "packages/operator/package.json"), "utf8")) as { version: string }
).version

/** The image name without a tag; kustomize's `images:` entry matches it. */
export const imageName = "ghcr.io/icod-de/convex-operator"

/** The image of this version. */
export const defaultImage = `${imageName}:${operatorVersion}`

/** Labels of the manager's Deployment and pods. */
export const managerLabels = {
  "app.kubernetes.io/name": "convex-operator",
  "app.kubernetes.io/component": "manager"
} as const

export const ports = { metrics: 8080, health: 8081 } as const

export const namespaceObject = (): Record<string, unknown> => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name: install.namespace, labels: { "app.kubernetes.io/name": "convex-operator" } }
})

/**
 * The manager: `convex-operator run --leader-elect` as the generated ServiceAccount, probes on /healthz and
 * /readyz, metrics on 8080, non-root with a read-only root filesystem, no capabilities, seccomp RuntimeDefault.
 * OPERATOR_IMAGE (the image snapshot Jobs run) is the Deployment's own image.
 */
export const managerDeployment = (image: string): Record<string, unknown> => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "convex-operator", namespace: install.namespace, labels: managerLabels },
  spec: {
    replicas: 1,
    selector: { matchLabels: managerLabels },
    template: {
      metadata: { labels: managerLabels, annotations: { "kubectl.kubernetes.io/default-container": "manager" } },
      spec: {
        serviceAccountName: install.serviceAccount,
        securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
        terminationGracePeriodSeconds: 30,
        containers: [
          {
            name: "manager",
            image,
            imagePullPolicy: "IfNotPresent",
            args: [
              "run",
              "--leader-elect",
              `--metrics-bind-address=:${ports.metrics}`,
              `--health-probe-bind-address=:${ports.health}`,
              "--log-format=json"
            ],
            env: [
              { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
              { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
              { name: "OPERATOR_IMAGE", value: image }
            ],
            ports: [
              { name: "metrics", containerPort: ports.metrics, protocol: "TCP" },
              { name: "health", containerPort: ports.health, protocol: "TCP" }
            ],
            livenessProbe: {
              httpGet: { path: "/healthz", port: "health" },
              initialDelaySeconds: 15,
              periodSeconds: 20
            },
            readinessProbe: {
              httpGet: { path: "/readyz", port: "health" },
              initialDelaySeconds: 5,
              periodSeconds: 10
            },
            resources: {
              requests: { cpu: "50m", memory: "128Mi" },
              limits: { memory: "512Mi" }
            },
            securityContext: {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              runAsNonRoot: true,
              capabilities: { drop: ["ALL"] }
            },
            volumeMounts: [{ name: "tmp", mountPath: "/tmp" }]
          }
        ],
        volumes: [{ name: "tmp", emptyDir: {} }]
      }
    }
  }
})

/** Everything `kubectl apply -f dist/install.yaml` creates, in apply order. */
export const installObjects = (image: string): ReadonlyArray<Record<string, unknown>> => [
  convexInstanceCrd as unknown as Record<string, unknown>,
  namespaceObject(),
  ...clusterRbac(),
  managerDeployment(image)
]

export const installYaml = (image: string): string =>
  `# Generated by \`npm run build-installer\` (image ${image}). Do not edit.\n# kubectl apply --server-side -f install.yaml\n${yamlDocuments(installObjects(image))}`

const managerHeader =
  "# Generated by `npm run generate` from scripts/build-installer.ts. Do not edit.\n# The image is set by the kustomization's `images:` entry.\n"

/** The kustomize files that carry objects or the version (all written by `npm run generate`). */
export const kustomizeFiles = (): ReadonlyArray<{ readonly path: string; readonly content: string }> => [
  { path: "config/manager/manager.yaml", content: `${managerHeader}${yamlDocuments([managerDeployment(imageName)])}` },
  {
    path: "config/manager/kustomization.yaml",
    content: `${managerHeader.split("\n")[0]}
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - manager.yaml
images:
  - name: ${imageName}
    newName: ${imageName}
    newTag: ${operatorVersion}
# OPERATOR_IMAGE (the image snapshot Jobs run) follows the container's image, also after \`kustomize edit set image\`.
replacements:
  - source:
      kind: Deployment
      name: convex-operator
      fieldPath: spec.template.spec.containers.[name=manager].image
    targets:
      - select:
          kind: Deployment
          name: convex-operator
        fieldPaths:
          - spec.template.spec.containers.[name=manager].env.[name=OPERATOR_IMAGE].value
`
  },
  {
    path: "config/default/namespace.yaml",
    content: `${managerHeader.split("\n")[0]}\n${yamlDocuments([namespaceObject()])}`
  },
  // kustomize loads nothing outside its folder, so config/samples holds copies of the samples that stand alone.
  ...sampleFiles.map((file) => ({
    path: `config/samples/${file}`,
    content: `# Copied from examples/${file} by \`npm run generate\`. Do not edit.\n${readFileSync(join(root, "examples", file), "utf8")}`
  }))
]

/** The samples in config/samples: those that need nothing but the CRD (no Secrets, no ObjectBucketClaim CRD). */
export const sampleFiles = ["hello-world.yaml", "dev-sqlite.yaml"] as const

const chartHeader = "# Generated by `npm run generate` from scripts/build-installer.ts. Do not edit.\n"

/**
 * The generated parts of the Helm chart in dist/chart (the rest is written by hand): Chart.yaml (the operator's
 * version), the CRD (crds/: installed by helm before the templates, never upgraded or deleted by it) and the RBAC
 * rules as named templates, so the chart grants exactly what config/rbac grants.
 */
export const chartFiles = (): ReadonlyArray<{ readonly path: string; readonly content: string }> => [
  {
    path: "dist/chart/Chart.yaml",
    content: `${chartHeader}${toYaml({
      apiVersion: "v2",
      name: "convex-operator",
      description: "Kubernetes operator for self-hosted Convex",
      type: "application",
      version: operatorVersion,
      appVersion: operatorVersion,
      kubeVersion: ">=1.28.0-0",
      home: "https://github.com/icod-de/convex-operator",
      sources: ["https://github.com/icod-de/convex-operator"],
      keywords: ["convex", "operator"]
    })}`
  },
  {
    path: "dist/chart/crds/convexinstances.convex.icod.de.yaml",
    content: `${chartHeader}${convexInstanceCrdYamlText()}`
  },
  {
    path: "dist/chart/templates/_rules.tpl",
    content: `{{/* ${chartHeader.trim().slice(2)} */}}
{{/* The operator's rules (packages/operator/src/rbac.ts), for a ClusterRole or a Role per watched namespace. */}}
{{- define "convex-operator.rules" -}}
${toYaml(operatorRules()).trimEnd()}
{{- end }}

{{/* Leader election: Leases in the release namespace. */}}
{{- define "convex-operator.leaderElectionRules" -}}
${toYaml(leaderElectionRules()).trimEnd()}
{{- end }}
`
  }
]

const convexInstanceCrdYamlText = () => yamlDocuments([convexInstanceCrd])

const usage = "usage: npm run build-installer -- [--image <registry/name:tag>] [--output <file>]"

const main = (argv: ReadonlyArray<string>) => {
  let image = defaultImage
  let output = join(root, "dist/install.yaml")
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = (argv[i] ?? "").split(/=(.*)/s, 2)
    const value = inline ?? argv[++i]
    if (value === undefined || value === "") throw new Error(`${flag}: missing value\n${usage}`)
    if (flag === "--image") image = value
    else if (flag === "--output") output = resolve(value)
    else throw new Error(`unknown argument ${flag}\n${usage}`)
  }
  if (!/^[a-z0-9][A-Za-z0-9._\-/:@]*$/.test(image)) throw new Error(`--image: not an image reference: ${image}`)
  mkdirSync(dirname(output), { recursive: true })
  writeFileSync(output, installYaml(image))
  console.log(`wrote ${output} (image ${image})`)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    main(process.argv.slice(2))
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error))
    process.exitCode = 2
  }
}
