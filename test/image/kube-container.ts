/**
 * A Kubernetes container spec run with podman the way a kubelet would run it, as far as these tests need: the
 * security context (user and group, fsGroup, read-only root filesystem, no privilege escalation, dropped
 * capabilities), volumes bound to host folders (emptyDir as tmpfs), the termination message file, the environment
 * (references resolved by the caller; values reach podman through its environment, never its command line), and
 * command/args over the image's ENTRYPOINT/CMD. Host network: the cluster and the stand-ins listen on 127.0.0.1.
 */
import * as fs from "node:fs"
import * as path from "node:path"

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes JSON, checked where read
type Json = Record<string, any>

export interface ContainerRun {
  /** `podman run` flags before the image (no secrets in them). */
  readonly flags: ReadonlyArray<string>
  /** The arguments after the image. */
  readonly args: ReadonlyArray<string>
  /** The environment podman reads the `--env NAME` values from. */
  readonly env: NodeJS.ProcessEnv
  /** The host file the container's termination message lands in. */
  readonly terminationLog: string
}

export interface ContainerOptions {
  readonly podSecurity: Json | undefined
  readonly container: Json
  /** The pod's volumes, by name, with the host folder each is bound to (emptyDir volumes become tmpfs). */
  readonly volumes: ReadonlyArray<Json>
  readonly hostPaths: Readonly<Record<string, string>>
  /** The value of an env var with `valueFrom` (a Secret key, a field of the pod). */
  readonly resolve: (variable: Json) => string
  /** Env values to use instead of the rendered ones (an in-cluster URL, which does not resolve here). */
  readonly override?: Readonly<Record<string, string>>
  /** Where the termination message file goes on the host. */
  readonly workDir: string
}

/** The `podman run` flags, arguments and environment of a container of a pod. */
export const containerRun = (options: ContainerOptions): ContainerRun => {
  const { container, podSecurity = {} } = options
  const security: Json = { ...podSecurity, ...(container.securityContext ?? {}) }
  const flags: Array<string> = ["--network=host"]
  if (security.runAsUser !== undefined) {
    flags.push(`--user=${security.runAsUser}${security.runAsGroup === undefined ? "" : `:${security.runAsGroup}`}`)
  }
  if (podSecurity.fsGroup !== undefined) flags.push(`--group-add=${podSecurity.fsGroup}`)
  if (security.readOnlyRootFilesystem === true) flags.push("--read-only", "--read-only-tmpfs=false")
  if (security.allowPrivilegeEscalation === false) flags.push("--security-opt=no-new-privileges")
  for (const capability of security.capabilities?.drop ?? []) flags.push(`--cap-drop=${capability}`)
  for (const capability of security.capabilities?.add ?? []) flags.push(`--cap-add=${capability}`)
  for (const mount of container.volumeMounts ?? []) {
    const volume = options.volumes.find((candidate) => candidate.name === mount.name)
    if (volume === undefined) throw new Error(`volume ${mount.name} is not in the pod`)
    if (volume.emptyDir !== undefined && options.hostPaths[mount.name] === undefined) {
      flags.push(`--tmpfs=${mount.mountPath}:rw,mode=1777`)
    } else {
      const host = options.hostPaths[mount.name]
      if (host === undefined) throw new Error(`no host folder given for volume ${mount.name}`)
      flags.push(`--volume=${host}:${mount.mountPath}${mount.readOnly === true ? ":ro" : ""}`)
    }
  }
  // The kubelet mounts a writable file at terminationMessagePath and reads it after the container ends.
  const terminationLog = path.join(options.workDir, `${container.name}.termination-log`)
  fs.writeFileSync(terminationLog, "")
  fs.chmodSync(terminationLog, 0o666)
  flags.push(`--volume=${terminationLog}:${container.terminationMessagePath ?? "/dev/termination-log"}`)
  const env: NodeJS.ProcessEnv = {}
  for (const variable of container.env ?? []) {
    const value =
      options.override?.[variable.name] ??
      (variable.valueFrom === undefined ? String(variable.value ?? "") : options.resolve(variable))
    env[variable.name] = value
    flags.push(`--env=${variable.name}`)
  }
  if (container.command !== undefined) flags.push(`--entrypoint=${JSON.stringify(container.command)}`)
  return { flags, args: container.args ?? [], env, terminationLog }
}
