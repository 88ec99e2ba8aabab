/**
 * The security contexts of the Jobs that run the operator image (snapshot, env, backup, restore): the image's own
 * non-root user (65532, the Dockerfile's USER), and `fsGroup` so a freshly provisioned claim, owned by root, is
 * writable by it; no privilege escalation, no capabilities, the runtime's seccomp profile.
 *
 * @module
 */
import type { PodSecurityContext, SecurityContext } from "../api/index.js"

/** The uid and gid of the operator image. */
export const operatorImageUser = 65532

export const jobPodSecurity: PodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: operatorImageUser,
  runAsGroup: operatorImageUser,
  fsGroup: operatorImageUser,
  seccompProfile: { type: "RuntimeDefault" }
}

export const jobContainerSecurity: SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] }
}
