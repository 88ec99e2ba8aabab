/**
 * The operator image built from the repository's Dockerfile as it is, with only NODE_IMAGE swapped for the node
 * base made here (./node-base.ts). podman keeps every layer, so an unchanged lockfile reuses the `npm ci` layers
 * and an unchanged source tree reuses all of them. Each build step is printed as it starts, with the time so far.
 */
import * as path from "node:path"
import { repoRoot } from "../support/manifests.js"
import { ensureNodeBase, type NodeBase } from "./node-base.js"
import { podmanOk, requireContainerTools } from "./podman.js"

/** The tag the tier builds and runs (local storage only, never pushed). */
export const operatorImage = "localhost/convex-operator:image-tier"

export interface OperatorImage {
  /** What the tests run: the built image's ID (see below why not the tag). */
  readonly image: string
  readonly id: string
  readonly base: NodeBase
  /** Bytes, as podman counts them (uncompressed layers), of the image and of what it adds to the base. */
  readonly size: number
  readonly addedSize: number
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`

export const ensureOperatorImage = async (
  log: (line: string) => void = (line) => console.log(`[image] ${line}`)
): Promise<OperatorImage> => {
  requireContainerTools()
  const base = await ensureNodeBase(log)
  const started = Date.now()
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)}s`
  log(`podman build -f Dockerfile with NODE_IMAGE=${base.image} (node ${base.nodeVersion})`)
  await podmanOk(
    [
      "build",
      "--pull=never",
      "--layers",
      // RUN steps (npm ci) reach the registry through the host's network, as a docker build on a laptop does.
      "--network=host",
      "--build-arg",
      `NODE_IMAGE=${base.image}`,
      "--tag",
      operatorImage,
      "--file",
      path.join(repoRoot, "Dockerfile"),
      repoRoot
    ],
    {
      timeoutMillis: 900_000,
      onLine: (line) => {
        if (/STEP \d+\/\d+: (RUN|FROM)|^--> Using cache|^COMMIT/.test(line)) log(`${elapsed()} ${line.slice(0, 160)}`)
      }
    }
  ).catch((error: unknown) => {
    throw new Error(
      `podman build of the Dockerfile failed after ${elapsed()}: ${error instanceof Error ? error.message : error}`
    )
  })
  // Each changed source tree leaves about 0.5 GB of untagged layers behind: drop those older than a day. The
  // current build's stage layers go too once a day old (nothing tagged holds them): a build then runs `npm ci` and
  // `tsc` again, a few minutes once a day instead of storage that only grows.
  const pruned = await podmanOk(["image", "prune", "--force", "--filter", "until=24h"], { timeoutMillis: 300_000 })
  const prunedCount = pruned.split("\n").filter((line) => line.trim() !== "").length
  if (prunedCount > 0) log(`removed ${prunedCount} untagged images older than a day`)
  const [id = "", size = "0"] = (await podmanOk(["image", "inspect", "--format", "{{.Id}} {{.Size}}", operatorImage]))
    .trim()
    .split(" ")
  // The tests name the image by its ID, not the tag: another checkout's run on the same machine (same podman storage)
  // may build and tag a different tree meanwhile, and its image must not stand in for this one's.
  const result = { image: id, id, base, size: Number(size), addedSize: Number(size) - base.size }
  log(
    `built ${operatorImage} (${id.slice(0, 12)}) in ${elapsed()}: ${mb(result.size)}, of which ${mb(result.addedSize)} ` +
      `on top of the node base (${mb(base.size)})`
  )
  return result
}
