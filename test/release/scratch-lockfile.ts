/**
 * A `package-lock.json` for a scratch project that installs packed tarballs of this workspace, derived from the
 * repository's own lockfile: the tarballs themselves (by their `npm pack` integrity) plus every package their
 * dependencies and peers need, pinned exactly as the root lockfile pins them.
 *
 * Why: `npm install --offline` resolves ranges and so needs the registry's packuments, which `npm ci` never fetches:
 * from an empty npm cache it answers `ENOTCACHED`. `npm ci --offline` against this lockfile needs only the tarballs,
 * which the repository's `npm ci` has just put in the cache by integrity. npm has no command that writes a lockfile
 * for a subset of another project's tree, hence this walk (npm's own resolution rule: a dependency of the package at
 * `L` is the nearest `L/node_modules/<name>`, then each parent's, then `node_modules/<name>`).
 *
 * Entries without a `resolved` URL (npm's `omit-lockfile-registry-resolved`) get the registry's tarball URL, so npm
 * needs no packument to find the tarball: it takes it from the cache by its integrity.
 */

interface LockEntry {
  readonly version?: string
  readonly resolved?: string
  readonly integrity?: string
  readonly link?: boolean
  readonly dependencies?: Readonly<Record<string, string>>
  readonly optionalDependencies?: Readonly<Record<string, string>>
  readonly peerDependencies?: Readonly<Record<string, string>>
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>
  readonly [key: string]: unknown
}

export interface Lockfile {
  readonly lockfileVersion: number
  readonly packages: Readonly<Record<string, LockEntry>>
}

export interface PackedTarball {
  /** The package's name, e.g. `@convex-operator/core`. */
  readonly name: string
  readonly version: string
  /** Its path relative to the scratch project, e.g. `../convex-operator-core-0.1.0.tgz`. */
  readonly file: string
  /** `sha512-…`, as `npm pack --json` reports it. */
  readonly integrity: string
}

/** The dependencies npm installs for an entry: regular, optional, and peers that are not optional. */
const wanted = (entry: LockEntry): ReadonlyArray<string> => [
  ...Object.keys(entry.dependencies ?? {}),
  ...Object.keys(entry.optionalDependencies ?? {}),
  ...Object.keys(entry.peerDependencies ?? {}).filter((name) => entry.peerDependenciesMeta?.[name]?.optional !== true)
]

/** Where npm finds `name` for the package at `from` in `packages`: the nearest enclosing node_modules that has it. */
const locate = (packages: Readonly<Record<string, LockEntry>>, from: string, name: string): string | undefined => {
  let base = from
  for (;;) {
    const candidate = base === "" ? `node_modules/${name}` : `${base}/node_modules/${name}`
    if (packages[candidate] !== undefined) return candidate
    if (base === "") return undefined
    const cut = base.lastIndexOf("/node_modules/")
    base = cut < 0 ? "" : base.slice(0, cut)
  }
}

/** The registry's URL of the tarball of the package at `location` (`node_modules/@scope/name` → `…/-/name-1.0.0.tgz`). */
const tarballUrl = (registry: string, location: string, entry: LockEntry): string => {
  const name = typeof entry.name === "string" ? entry.name : location.slice(location.lastIndexOf("node_modules/") + 13)
  const base = registry.endsWith("/") ? registry : `${registry}/`
  return `${base}${name}/-/${name.slice(name.lastIndexOf("/") + 1)}-${entry.version}.tgz`
}

/**
 * The scratch lockfile and the matching `dependencies` of its package.json. The tarballs replace the workspace links
 * of the same name; `extra` names further direct dependencies by where they sit in the root lockfile (e.g.
 * `{ effect: "node_modules/effect-peer-floor" }` installs the root's aliased copy as plain `effect`). A dependency the
 * scratch project has itself satisfies the tarballs' peers, as npm does. Throws when a needed package is missing.
 */
export const scratchLockfile = (
  source: Lockfile,
  tarballs: ReadonlyArray<PackedTarball>,
  extra: Readonly<Record<string, string>>,
  registry: string,
  name = "scratch"
): { readonly lockfile: object; readonly dependencies: Readonly<Record<string, string>> } => {
  const entryAt = (location: string): LockEntry => {
    const entry = source.packages[location]
    if (entry === undefined) throw new Error(`${location} is not in the lockfile`)
    return entry
  }
  // Where a folder of the root tree goes in the scratch tree (with everything nested under it).
  const relocations: Array<readonly [string, string]> = []
  const out: Record<string, LockEntry> = {}
  // Each queued item: where the entry sits in the source lockfile.
  const queue: Array<string> = []
  for (const tarball of tarballs) {
    const link = `node_modules/${tarball.name}`
    const workspace = entryAt(link).resolved
    if (entryAt(link).link !== true || workspace === undefined) throw new Error(`${tarball.name} is not a workspace`)
    const { name: _name, ...rest } = entryAt(workspace)
    out[link] = { ...rest, version: tarball.version, resolved: `file:${tarball.file}`, integrity: tarball.integrity }
    relocations.push([workspace, link])
    queue.push(workspace)
  }
  const relocate = (location: string): string => {
    const moved = relocations.find(([from]) => location === from || location.startsWith(`${from}/node_modules/`))
    return moved === undefined ? location : `${moved[1]}${location.slice(moved[0].length)}`
  }
  const place = (location: string) => {
    const target = relocate(location)
    if (out[target] !== undefined) return
    const { dev: _dev, devOptional: _devOptional, peer: _peer, name: _name, ...entry } = entryAt(location)
    out[target] = { ...entry, resolved: entry.resolved ?? tarballUrl(registry, location, entryAt(location)) }
    queue.push(location)
  }
  const dependencies: Record<string, string> = Object.fromEntries(
    tarballs.map((tarball) => [tarball.name, `file:${tarball.file}`])
  )
  for (const [dependency, location] of Object.entries(extra)) {
    dependencies[dependency] = entryAt(location).version ?? ""
    relocations.push([location, `node_modules/${dependency}`])
    place(location)
  }
  while (queue.length > 0) {
    const from = queue.shift() as string
    for (const dependency of wanted(entryAt(from))) {
      if (tarballs.some((tarball) => tarball.name === dependency)) continue
      // The scratch project's own copy wins over what the root tree would resolve (peers, as npm does).
      if (extra[dependency] !== undefined && locate(source.packages, from, dependency) === `node_modules/${dependency}`)
        continue
      const found = locate(source.packages, from, dependency)
      if (found === undefined) throw new Error(`${dependency} (needed by ${from}) is not in the lockfile`)
      place(found)
    }
  }
  return {
    dependencies,
    lockfile: { name, lockfileVersion: 3, requires: true, packages: { "": { name, dependencies }, ...out } }
  }
}
