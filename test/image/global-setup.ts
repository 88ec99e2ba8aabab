/**
 * Vitest globalSetup of the image project: the control plane binaries (as for the integration tier) and the
 * operator image built with podman (./operator-image.ts), before any test starts, so a cold build never runs inside
 * a test's timeout. A missing podman, runc or debootstrap, or a failed build, fails the run with the reason.
 */
import type { TestProject } from "vitest/node"
import controlPlane from "../integration/global-setup.js"
import { ensureOperatorImage, type OperatorImage } from "./operator-image.js"

declare module "vitest" {
  export interface ProvidedContext {
    operatorImage: OperatorImage
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const started = Date.now()
  const [, image] = await Promise.all([controlPlane(), ensureOperatorImage()]).catch((error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error)
    console.error(`\n[image] image tests cannot run:\n${reason}\n`)
    throw new Error(`image tests cannot run: ${reason}`)
  })
  project.provide("operatorImage", image)
  console.log(`[image] control plane and image ready in ${((Date.now() - started) / 1000).toFixed(1)}s`)
}
