/**
 * Vitest globalSetup of the integration project: finds or builds the control-plane binaries
 * (progress on stdout) before any test file starts. A missing Go toolchain or a failed build fails
 * the run with the reason; the integration tier is never skipped.
 */
import { Effect } from "effect"
import { ensureAssets } from "../cluster/build.js"

export default async function setup(): Promise<void> {
  const started = Date.now()
  const assets = await Effect.runPromise(ensureAssets()).catch((error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error)
    console.error(`\n[cluster] integration tests cannot run:\n${reason}\n`)
    throw new Error(`integration tests cannot run: ${reason}`)
  })
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  console.log(`[cluster] control plane binaries ready in ${assets.binDir} (${assets.source}, ${seconds}s)`)
}
