/**
 * Manifests the app prints (`convex-operator crd`, `convex-operator manifests`) and the repository commits (`npm run
 * generate`, `npm run build-installer`): one rendering, so what the CLI prints is byte for byte the committed file.
 *
 * - the CRDs (`config/crd/bases`);
 * - the operator's installation: its Namespace, RBAC (rbac.ts) and manager Deployment, as the one-file bundle
 *   `dist/install.yaml` ({@link installYaml}); `config/manager` and `config/default` (kustomize) hold the same
 *   Deployment and Namespace.
 *
 * @module
 */
import { readFileSync } from "node:fs"
import { convexInstanceCrd, crds } from "@convex-operator/core"
import { stringify } from "yaml"
import { clusterRbac, install } from "./rbac.js"

/** YAML as the project writes it: no line folding, no anchors. */
export const toYaml = (value: unknown): string => stringify(value, { lineWidth: 0, aliasDuplicateObjects: false })

/** The ConvexInstance CRD as one YAML document. */
export const convexInstanceCrdYaml = (): string => `---\n${toYaml(convexInstanceCrd)}`

/** Every CRD of the API group (ConvexInstance, ConvexBackup, ConvexScheduledBackup) as YAML documents. */
export const crdsYaml = (): string => yamlDocuments(crds)

/** Objects as a multi-document YAML stream. */
export const yamlDocuments = (objects: ReadonlyArray<unknown>): string =>
  objects.map((object) => `---\n${toYaml(object)}`).join("")

/** The operator's version: its package's (package.json is beside src/ and dist/ alike). */
export const operatorVersion: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
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

/** The manager's ports: Prometheus metrics, and the /healthz and /readyz probes. */
export const ports = { metrics: 8080, health: 8081 } as const

/** The Namespace the operator runs in. */
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
  ...(crds as unknown as ReadonlyArray<Record<string, unknown>>),
  namespaceObject(),
  ...clusterRbac(),
  managerDeployment(image)
]

/** The one-file installer: `dist/install.yaml` for the default image, `convex-operator manifests --image X` for X. */
export const installYaml = (image: string): string =>
  `# Generated by \`convex-operator manifests\` / \`npm run build-installer\` (image ${image}). Do not edit.\n# kubectl apply --server-side -f install.yaml\n${yamlDocuments(installObjects(image))}`

/** What an image reference looks like (registry/name[:tag][@digest]); enough to refuse a typo or a flag. */
const imagePattern = /^[a-z0-9][A-Za-z0-9._\-/:@]*$/

/** An error naming the problem when `image` is not an image reference, else undefined. */
export const invalidImage = (image: string): string | undefined =>
  imagePattern.test(image) ? undefined : `not an image reference: ${JSON.stringify(image)}`
