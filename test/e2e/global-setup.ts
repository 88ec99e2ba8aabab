/**
 * Vitest globalSetup of the e2e project: the control plane binaries (as for the integration tier), plus the tools
 * single e2e files need (SeaweedFS, helm, Envoy Gateway), built from Go modules before any test starts so a cold
 * build (SeaweedFS takes many minutes) never runs inside a test's timeout. A failed build fails the run with the
 * reason.
 */
import { ensureEnvoyGateway } from "../cluster/envoy-gateway.js"
import { ensureSeaweedfs } from "../cluster/seaweedfs.js"
import { ensureHelm } from "../image/helm.js"
import controlPlane from "../integration/global-setup.js"

export default async function setup(): Promise<void> {
  const started = Date.now()
  // The Go builds share the module cache; their downloads overlap.
  const [, seaweedfs, helm, envoyGateway] = await Promise.all([
    controlPlane(),
    ensureSeaweedfs(),
    ensureHelm(),
    ensureEnvoyGateway()
  ]).catch((error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error)
    console.error(`\n[e2e] end-to-end tests cannot run:\n${reason}\n`)
    throw new Error(`e2e tests cannot run: ${reason}`)
  })
  console.log(
    `[e2e] tools ready in ${((Date.now() - started) / 1000).toFixed(1)}s: ${seaweedfs}, ${helm}, ${envoyGateway.binary}`
  )
}
