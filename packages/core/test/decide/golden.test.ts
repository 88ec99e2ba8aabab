import { decide } from "@convex-operator/core"
import { describe, expect, it } from "@effect/vitest"
import { stringify } from "yaml"
import { entropy, examples, now, sampleReferences, settle } from "./support.js"

const yaml = (value: unknown) => stringify(value, { lineWidth: 0, aliasDuplicateObjects: false })
const fileName = (source: string) => source.replace(/^examples\//, "").replace(/\.yaml#(\d+)$/, "-$1")

// The full object set of each sample in examples/ (first decision, with its referenced Secrets present), and the
// status once a healthy cluster has settled. Review changes to packages/core/test/golden/ like code; update
// them with `npx vitest run --project unit -u packages/core/test/decide/golden.test.ts`.
describe("golden object sets of examples/", () => {
  it.each(examples().map((sample) => [sample.source, sample.instance] as const))("%s", async (source, instance) => {
    const decision = decide(instance, { objects: sampleReferences, entropy }, now)
    const documents = decision.desired.map((object) => `---\n${yaml(object)}`).join("")
    await expect(`# Desired objects of ${source} (see decide/golden.test.ts)\n${documents}`).toMatchFileSnapshot(
      `../golden/${fileName(source)}.objects.yaml`
    )
    const settled = settle(instance)
    await expect(
      `# Status of ${source} once a healthy cluster settled (see decide/golden.test.ts)\n${yaml(settled.decision.status)}`
    ).toMatchFileSnapshot(`../golden/${fileName(source)}.status.yaml`)
  })
})
