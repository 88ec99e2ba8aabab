/**
 * The install paths on the full local cluster: `kubectl apply -f dist/install.yaml` and `kubectl apply -k
 * config/default` each bring up the operator Deployment whose pod becomes Ready (kwok plays the kubelet: the image
 * does not really run here; operator.test.ts runs the real process under the same RBAC), and each uninstalls
 * cleanly (the namespace, CRD and cluster RBAC are gone).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { crds } from "@convex-operator/core"
import { defaultImage, install, installObjects } from "convex-operator"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseAllDocuments } from "yaml"
import { useLocalCluster } from "../integration/support.js"
import { repoRoot } from "../support/manifests.js"
import { conditionOf, eventually, type Kubectl, makeKubectl } from "./support/kube.js"

const cluster = useLocalCluster({ components: "full" }, 180_000)
let kubectl: Kubectl
const timings: Array<string> = []

beforeAll(() => {
  const info = cluster.info()
  kubectl = makeKubectl(info.kubectl, info.kubeconfigPath)
})

afterAll(() => {
  console.log(`[install] ${timings.join(", ")}`)
})

const timed = async <A>(name: string, body: () => Promise<A>): Promise<A> => {
  const started = Date.now()
  const result = await body()
  timings.push(`${name}: ${((Date.now() - started) / 1000).toFixed(1)}s`)
  return result
}

type KubeObject = {
  readonly kind: string
  readonly metadata: { readonly name: string; readonly namespace?: string }
  readonly [key: string]: unknown
}
const parse = (text: string): ReadonlyArray<KubeObject> =>
  parseAllDocuments(text)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null)
const key = (object: KubeObject) => `${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`
const byKey = (objects: ReadonlyArray<KubeObject>) =>
  Object.fromEntries(
    objects.map((object): [string, KubeObject] => [key(object), object]).sort(([a], [b]) => a.localeCompare(b))
  )

const deploymentName = "convex-operator"
const deployment = () =>
  kubectl.json<{ status?: { readyReplicas?: number; availableReplicas?: number } }>([
    "deployment",
    deploymentName,
    "-n",
    install.namespace
  ])

/** Waits until the Deployment has one ready replica and its pod is Ready; returns the pod. */
const operatorPodReady = () =>
  eventually(
    "the operator pod to become Ready",
    () => {
      if (deployment()?.status?.availableReplicas !== 1) return undefined
      const pods = kubectl.json<{ items: ReadonlyArray<Record<string, unknown>> }>([
        "pods",
        "-n",
        install.namespace,
        "-l",
        "app.kubernetes.io/name=convex-operator"
      ])
      const pod = pods?.items.find((item) => conditionOf(item, "Ready")?.status === "True")
      return pod
    },
    {
      timeoutMillis: 90_000,
      detail: () =>
        kubectl(["get", "deploy,rs,pods,events", "-n", install.namespace, "-o", "wide"]) +
        kubectl(["get", "nodes", "-o", "wide"])
    }
  )

/**
 * Waits until every CRD's objects can be listed. A CRD deleted while the apiserver is still initialising its watch
 * cache ("storage is (re)initializing") stays Terminating for minutes: the apiextensions finalizer backs off on that
 * error. A running operator lists them at start; the kwok-played pod here does not, so the test waits the same way.
 */
const crdsServed = () =>
  eventually("every CRD's objects to be listable", () =>
    crds.every((crd) => kubectl.json([`${crd.spec.names.plural}.${crd.spec.group}`, "-A"]) !== undefined)
      ? true
      : undefined
  )

/** What of the install is still on the cluster (a CRD still terminating would swallow the next apply). */
const remaining = (): ReadonlyArray<string> => [
  ...(kubectl.json(["namespace", install.namespace]) === undefined ? [] : [`namespace/${install.namespace}`]),
  ...crds.flatMap((crd) =>
    kubectl.json(["crd", crd.metadata.name]) === undefined ? [] : [`crd/${crd.metadata.name}`]
  ),
  ...(kubectl.json(["clusterrole", install.role]) === undefined ? [] : [`clusterrole/${install.role}`]),
  ...(kubectl.json(["clusterrolebinding", install.role]) === undefined ? [] : [`clusterrolebinding/${install.role}`])
]

/** Waits until the namespace, every CRD and the cluster RBAC are gone; on timeout, says what is left and shows it. */
const uninstalled = () =>
  eventually(
    "the namespace, the CRDs and the ClusterRole to be gone",
    () => (remaining().length === 0 ? true : undefined),
    {
      timeoutMillis: 120_000,
      detail: () => {
        const left = remaining()
        return `still present: ${left.join(", ") || "nothing"}\n${left
          .map((name) => kubectl(["get", name, "-o", "yaml", "--ignore-not-found"]))
          .join("\n")}`
      }
    }
  )

describe("install", () => {
  it("kubectl apply -f dist/install.yaml: the operator pod becomes Ready; kubectl delete removes everything", async () => {
    const file = path.join(repoRoot, "dist/install.yaml")
    await timed("install.yaml apply→Ready", async () => {
      kubectl(["apply", "--server-side", "-f", file])
      const pod = (await operatorPodReady()) as {
        spec: {
          serviceAccountName: string
          securityContext: Record<string, unknown>
          containers: ReadonlyArray<{ image: string; args: ReadonlyArray<string>; securityContext: unknown }>
        }
      }
      expect(pod.spec.serviceAccountName).toBe(install.serviceAccount)
      expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } })
      expect(pod.spec.containers[0]?.image).toBe(defaultImage)
      expect(pod.spec.containers[0]?.args).toContain("--leader-elect")
      expect(pod.spec.containers[0]?.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] }
      })
      // The samples are valid against the installed CRD.
      kubectl(["apply", "--dry-run=server", "-n", "default", "-k", path.join(repoRoot, "config/samples")])
      await crdsServed()
    })
    await timed("install.yaml delete", async () => {
      kubectl(["delete", "-f", file, "--wait=false"])
      await uninstalled()
    })
  }, 240_000)

  it("kubectl kustomize config/default renders the objects of dist/install.yaml", () => {
    const rendered = parse(kubectl(["kustomize", path.join(repoRoot, "config/default")]))
    const bundle = parse(fs.readFileSync(path.join(repoRoot, "dist/install.yaml"), "utf8"))
    expect(byKey(rendered)).toEqual(byKey(bundle))
    expect(byKey(bundle)).toEqual(byKey(installObjects(defaultImage) as ReadonlyArray<KubeObject>))
  })

  it("kubectl apply -k config/default: the operator pod becomes Ready; kubectl delete -k removes everything", async () => {
    const folder = path.join(repoRoot, "config/default")
    await timed("kustomize apply→Ready", async () => {
      kubectl(["apply", "-k", folder]) // client-side apply, as most people type it
      await operatorPodReady()
      await crdsServed()
    })
    await timed("kustomize delete", async () => {
      kubectl(["delete", "-k", folder, "--wait=false"])
      await uninstalled()
    })
  }, 240_000)
})
