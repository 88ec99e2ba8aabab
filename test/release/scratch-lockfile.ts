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
 * The scratch lockfile: `root` lists the scratch project's direct dependencies (`name → version or file: spec`);
 * tarballs replace the workspace links of the same name. Throws when a needed package is not in the root lockfile.
 */
export const scratchLockfile = (
  source: Lockfile,
  tarballs: ReadonlyArray<PackedTarball>,
  extra: Readonly<Record<string, string>>,
  registry: string,
  name = "scratch"
): { readonly lockfile: object; readonly dependencies: Readonly<Record<string, string>> } => {
  const workspaceOf = new Map(
    Object.entries(source.packages)
      .filter(([, entry]) => entry.link === true && entry.resolved !== undefined)
      .map(([location, entry]) => [location, entry.resolved as string])
  )
  const dependencies: Record<string, string> = {
    ...Object.fromEntries(tarballs.map((tarball) => [tarball.name, `file:${tarball.file}`])),
    ...extra
  }
  const out: Record<string, LockEntry> = {
    "": { name, dependencies } as LockEntry
  }
  // Each queued item: where the entry sits in the source lockfile, and where it goes in the scratch one.
  const queue: Array<{ readonly source: string; readonly target: string }> = []
  for (const tarball of tarballs) {
    const link = `node_modules/${tarball.name}`
    const workspace = workspaceOf.get(link)
    const entry = workspace === undefined ? undefined : source.packages[workspace]
    if (workspace === undefined || entry === undefined) throw new Error(`${tarball.name} is not a workspace package`)
    const { name: _name, ...rest } = entry
    out[link] = { ...rest, version: tarball.version, resolved: `file:${tarball.file}`, integrity: tarball.integrity }
    queue.push({ source: workspace, target: link })
  }
  const seen = new Set<string>()
  const copy = (from: { readonly source: string; readonly target: string }, dependency: string) => {
    const found = locate(source.packages, from.source, dependency)
    if (found === undefined)
      throw new Error(`${dependency} (needed by ${from.source || "the scratch project"}) is not in the lockfile`)
    // A workspace's own nested node_modules moves under the tarball's install location.
    const workspace = [...workspaceOf.entries()].find(([, dir]) => found.startsWith(`${dir}/node_modules/`))
    const target = workspace === undefined ? found : `${workspace[0]}${found.slice(workspace[1].length)}`
    if (seen.has(target) || out[target] !== undefined) return
    seen.add(target)
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = source.packages[found] as LockEntry
    out[target] = entry.resolved === undefined ? { ...entry, resolved: tarballUrl(registry, found, entry) } : entry
    queue.push({ source: found, target })
  }
  for (const dependency of Object.keys(extra)) copy({ source: "", target: "" }, dependency)
  while (queue.length > 0) {
    const item = queue.shift() as { readonly source: string; readonly target: string }
    for (const dependency of wanted(source.packages[item.source] ?? {})) {
      if (tarballs.some((tarball) => tarball.name === dependency)) continue
      copy(item, dependency)
    }
  }
  return {
    dependencies,
    lockfile: { name, lockfileVersion: 3, requires: true, packages: out }
  }
}
