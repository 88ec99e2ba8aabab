/**
 * Why a backup or restore Job failed, in the words of its own containers: the termination message of each
 * container of its pods that exited non-zero. `backup store` writes its failure there itself (`uploading to
 * s3://…: InvalidAccessKeyId: … (check …)`); for the other steps the Jobs' `FallbackToLogsOnError` makes it the end
 * of the command's output. The commands never print a credential, so the text may go into a status or an event.
 *
 * @module
 */
import { Order } from "effect"
import type { KubeObject } from "../render/objects.js"

/** How much of the containers' words goes into a message (events are cut at 1 KiB by the apiserver). */
export const failureDetailLimit = 400

interface TerminatedState {
  readonly exitCode?: number
  readonly reason?: string
  readonly message?: string
}

interface ContainerStatus {
  readonly name?: string
  readonly state?: { readonly terminated?: TerminatedState }
}

const statusesOf = (pod: KubeObject): ReadonlyArray<ContainerStatus> => {
  const status = pod.status as
    | {
        readonly initContainerStatuses?: ReadonlyArray<ContainerStatus>
        readonly containerStatuses?: ReadonlyArray<ContainerStatus>
      }
    | undefined
  return [...(status?.initContainerStatuses ?? []), ...(status?.containerStatuses ?? [])]
}

/**
 * One line, at most `limit` characters. A longer text keeps its end (cut in front with "…"): a message that fell
 * back to the container's log ends with the error, after whatever the command logged before it.
 */
const oneLine = (text: string, limit: number): string => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length <= limit ? flat : `…${flat.slice(flat.length - (limit - 1))}`
}

/**
 * What the failed containers of `pods` said, newest pod first: `<container>: <message>` (or `<container> exited
 * <code>` without a message), the first failed container of the newest pod that has one; undefined when no
 * container of any pod exited non-zero.
 */
export const jobFailureDetail = (
  pods: ReadonlyArray<KubeObject>,
  limit: number = failureDetailLimit
): string | undefined => {
  const newestFirst = [...pods].sort((a, b) =>
    Order.string(b.metadata.creationTimestamp ?? "", a.metadata.creationTimestamp ?? "")
  )
  for (const pod of newestFirst) {
    for (const status of statusesOf(pod)) {
      const terminated = status.state?.terminated
      if (terminated === undefined || (terminated.exitCode ?? 0) === 0) continue
      const name = status.name ?? "container"
      const message = terminated.message?.trim() ?? ""
      return oneLine(
        message === ""
          ? `${name} exited ${terminated.exitCode}${terminated.reason === undefined ? "" : ` (${terminated.reason})`}`
          : `${name}: ${message}`,
        limit
      )
    }
  }
  return undefined
}
