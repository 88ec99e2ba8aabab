/**
 * A node base image for the Dockerfile's NODE_IMAGE, made here because the pinned `node` base cannot be pulled on
 * our machines (only package registries are reachable): Debian trixie from `debootstrap --variant=minbase`, with
 * Debian's `nodejs` (20.19) and `npm` installed inside it by apt, imported with `podman import`.
 *
 * - The root filesystem is built once into `<cache>/image-base/<key>/rootfs`, the key a hash of everything that
 *   goes into it (suite, variant, mirror, packages, this recipe's version). A cold build took about 2 minutes here.
 * - The imported image carries the host's CA bundle at /etc/ssl/certs/ca-certificates.crt and
 *   NODE_EXTRA_CA_CERTS naming it, so `npm ci` in the build trusts what the host trusts; it is tagged
 *   `<key>-<hash of the bundle>` and imported again only when either changes.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { exec } from "../cluster/exec.js"
import { cacheRoot } from "../cluster/versions.js"
import { podman, podmanOk } from "./podman.js"

export const nodeBaseRecipe = {
  // Bump when the steps below change, so a cached root filesystem of the old recipe is not reused.
  recipe: 1,
  suite: "trixie",
  variant: "minbase",
  mirror: "http://deb.debian.org/debian",
  packages: ["nodejs", "npm", "ca-certificates"]
} as const

const caPath = "/etc/ssl/certs/ca-certificates.crt"

const sha = (text: string | Buffer) => createHash("sha256").update(text).digest("hex").slice(0, 12)

export const nodeBaseKey = (): string => `${nodeBaseRecipe.suite}-${sha(JSON.stringify(nodeBaseRecipe))}`

/** The host's CA bundle: what Node is told to trust here, else Debian's system bundle. */
const hostCaBundle = (): string => {
  const candidates = [process.env.NODE_EXTRA_CA_CERTS, process.env.SSL_CERT_FILE, caPath]
  const found = candidates.find((file) => file !== undefined && file !== "" && fs.existsSync(file))
  if (found === undefined) throw new Error(`no CA bundle found on this machine (looked at ${caPath})`)
  return found
}

export interface NodeBase {
  /** The podman image reference, for `--build-arg NODE_IMAGE=`. */
  readonly image: string
  /** `node --version` inside it. */
  readonly nodeVersion: string
  /** Its size in bytes as podman counts it. */
  readonly size: number
}

/** Builds the root filesystem into the cache unless it is there; returns its folder. */
const ensureRootfs = async (log: (line: string) => void): Promise<{ rootfs: string; nodeVersion: string }> => {
  const dir = path.join(cacheRoot(), "image-base", nodeBaseKey())
  const rootfs = path.join(dir, "rootfs")
  const versionFile = path.join(dir, "node-version")
  if (fs.existsSync(versionFile)) return { rootfs, nodeVersion: fs.readFileSync(versionFile, "utf8").trim() }
  const staging = `${dir}.partial-${process.pid}`
  fs.rmSync(staging, { recursive: true, force: true })
  fs.mkdirSync(staging, { recursive: true })
  const logFile = path.join(staging, "build.log")
  const run = (label: string, command: string, args: ReadonlyArray<string>) =>
    Effect.runPromise(exec(command, args, { label, log, logFile, heartbeatSeconds: 30 }))
  const started = Date.now()
  log(`building the node base (${nodeBaseRecipe.suite} minbase + ${nodeBaseRecipe.packages.join(", ")}) into ${dir}`)
  try {
    await run(`debootstrap --variant=${nodeBaseRecipe.variant} ${nodeBaseRecipe.suite}`, "debootstrap", [
      `--variant=${nodeBaseRecipe.variant}`,
      nodeBaseRecipe.suite,
      path.join(staging, "rootfs"),
      nodeBaseRecipe.mirror
    ])
    // debootstrap's own --include cannot resolve npm's dependencies (virtual packages); apt inside the root can.
    await run(`apt-get install ${nodeBaseRecipe.packages.join(" ")} (in the new root)`, "chroot", [
      path.join(staging, "rootfs"),
      "/usr/bin/env",
      "-i",
      "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
      "DEBIAN_FRONTEND=noninteractive",
      "sh",
      "-c",
      `apt-get update -qq && apt-get install -y -qq --no-install-recommends ${nodeBaseRecipe.packages.join(" ")} && apt-get clean && rm -rf /var/lib/apt/lists/*`
    ])
    const nodeVersion = (
      await Effect.runPromise(exec("chroot", [path.join(staging, "rootfs"), "node", "--version"], { logFile }))
    ).trim()
    fs.writeFileSync(path.join(staging, "node-version"), `${nodeVersion}\n`)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.renameSync(staging, dir)
    log(`node base ${nodeVersion} built in ${((Date.now() - started) / 1000).toFixed(1)}s`)
    return { rootfs, nodeVersion }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new Error(`building the node base failed (log: ${logFile}):\n${reason}`)
  }
}

/** The node base image: imported from the cached root filesystem with the host's CA bundle, unless present. */
export const ensureNodeBase = async (log: (line: string) => void): Promise<NodeBase> => {
  const { rootfs, nodeVersion } = await ensureRootfs(log)
  const bundle = fs.readFileSync(hostCaBundle())
  const image = `localhost/convex-operator-test-node:${nodeBaseKey()}-${sha(bundle)}`
  const sizeOf = async () => Number((await podmanOk(["image", "inspect", "--format", "{{.Size}}", image])).trim())
  if ((await podman(["image", "exists", image])).code === 0) return { image, nodeVersion, size: await sizeOf() }
  const started = Date.now()
  fs.writeFileSync(path.join(rootfs, caPath), bundle)
  const tar = `${path.dirname(rootfs)}/rootfs-${process.pid}.tar`
  try {
    await Effect.runPromise(exec("tar", ["-C", rootfs, "--numeric-owner", "-cf", tar, "."]))
    await podmanOk(
      ["import", "--change", `ENV=NODE_EXTRA_CA_CERTS=${caPath}`, "--change", 'CMD=["node"]', tar, image],
      { timeoutMillis: 300_000 }
    )
  } finally {
    fs.rmSync(tar, { force: true })
  }
  log(`node base imported as ${image} in ${((Date.now() - started) / 1000).toFixed(1)}s`)
  return { image, nodeVersion, size: await sizeOf() }
}
