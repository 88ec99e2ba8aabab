/**
 * Rendering the wrapper go.mod files from the templates in `go/` (pure string work, no I/O).
 */
import { kubernetesVersionParts } from "./versions.js"

const fill = (template: string, values: Record<string, string>): string =>
  template.replace(/\{\{([A-Z_]+)\}\}/g, (whole, key: string) => {
    const value = values[key]
    if (value === undefined) throw new Error(`go.mod template: no value for ${whole}`)
    return value
  })

/**
 * Every `k8s.io/x => ./staging/src/k8s.io/x` replace in upstream's go.mod becomes
 * `k8s.io/x => k8s.io/x v0.<minor>.<patch>`: upstream requires its staging modules at v0.0.0.
 */
export const stagingReplaces = (upstreamGoMod: string, kubernetesVersion: string): ReadonlyArray<string> => {
  const { staging } = kubernetesVersionParts(kubernetesVersion)
  const modules = [...upstreamGoMod.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s+=>\s+\.\/staging\/\S+\s*$/gm)].map((m) => m[1]!)
  if (modules.length === 0) throw new Error("upstream go.mod has no `k8s.io/… => ./staging/…` replaces")
  return modules.map((module) => `${module} => ${module} ${staging}`)
}

/** The `go` and `godebug` lines of upstream's go.mod, so the wrapper builds with the same language semantics. */
export const goDirectives = (upstreamGoMod: string): string => {
  const lines = upstreamGoMod.split("\n").filter((line) => /^(go|godebug)\s/.test(line))
  if (!lines.some((line) => line.startsWith("go "))) throw new Error("upstream go.mod has no `go` line")
  return lines.join("\n")
}

export const renderKubernetesGoMod = (template: string, upstreamGoMod: string, kubernetesVersion: string): string =>
  fill(template, {
    GO_DIRECTIVES: goDirectives(upstreamGoMod),
    KUBERNETES_VERSION: kubernetesVersion,
    STAGING_REPLACES: stagingReplaces(upstreamGoMod, kubernetesVersion)
      .map((line) => `\t${line}`)
      .join("\n")
  })

export const renderEtcdGoMod = (template: string, etcdVersion: string): string =>
  fill(template, { ETCD_VERSION: etcdVersion })

/** `-X` flags that make `/version` and `--version` report the real release instead of `v0.0.0-master`. */
export const kubernetesVersionLdflags = (kubernetesVersion: string): ReadonlyArray<string> => {
  const { major, minor } = kubernetesVersionParts(kubernetesVersion)
  return ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"].flatMap((pkg) => [
    `-X ${pkg}.gitVersion=${kubernetesVersion}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`
  ])
}
