/** The wrapper go.mod rendering used by the control-plane build (pure; no Go needed). */
import { describe, expect, it } from "vitest"
import { goDirectives, kubernetesVersionLdflags, renderKubernetesGoMod, stagingReplaces } from "../cluster/go-mod.js"

const upstream = `module k8s.io/kubernetes

go 1.24.0

godebug default=go1.24

require (
	k8s.io/api v0.0.0
	github.com/x/y v1.0.0
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/cri-api => ./staging/src/k8s.io/cri-api
	github.com/x/y => github.com/x/y v1.0.1
)
`

describe("wrapper go.mod", () => {
  it("turns every staging replace into a versioned one", () => {
    expect(stagingReplaces(upstream, "v1.34.4")).toEqual([
      "k8s.io/api => k8s.io/api v0.34.4",
      "k8s.io/cri-api => k8s.io/cri-api v0.34.4"
    ])
  })

  it("keeps upstream's go and godebug lines", () => {
    expect(goDirectives(upstream)).toBe("go 1.24.0\ngodebug default=go1.24")
  })

  it("fills the template and refuses unknown placeholders", () => {
    const rendered = renderKubernetesGoMod(
      "{{GO_DIRECTIVES}}\nrequire k8s.io/kubernetes {{KUBERNETES_VERSION}}\n{{STAGING_REPLACES}}",
      upstream,
      "v1.34.4"
    )
    expect(rendered).toContain("require k8s.io/kubernetes v1.34.4")
    expect(rendered).toContain("\tk8s.io/api => k8s.io/api v0.34.4")
    expect(() => renderKubernetesGoMod("{{NOPE}}", upstream, "v1.34.4")).toThrow(/NOPE/)
  })

  it("sets the version ldflags for component-base and client-go", () => {
    const flags = kubernetesVersionLdflags("v1.34.4")
    expect(flags).toContain("-X k8s.io/component-base/version.gitVersion=v1.34.4")
    expect(flags).toContain("-X k8s.io/client-go/pkg/version.gitMinor=34")
    expect(flags).toContain("-X k8s.io/client-go/pkg/version.gitTreeState=clean")
  })
})
