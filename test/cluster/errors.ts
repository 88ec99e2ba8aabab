/** Errors of the local cluster: each says which component and why, with the end of its log. */
import { Data } from "effect"

export class ClusterError extends Data.TaggedError("ClusterError")<{
  readonly component: string
  readonly reason: string
  /** Tails of the component logs, for a failed startup. */
  readonly logs?: string
}> {
  override get message() {
    return `local cluster: ${this.component}: ${this.reason}${this.logs === undefined ? "" : `\n${this.logs}`}`
  }
}
