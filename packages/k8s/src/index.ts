/**
 * @convex-operator/k8s: a small, generic Effect toolkit for Kubernetes controllers.
 */

export * as Alarm from "./Alarm.js"
export * as Backoff from "./Backoff.js"
export * as Controller from "./Controller.js"
export { EventRecorder, type EventSpec, RecordedEvents } from "./EventRecorder.js"
export * from "./errors.js"
export * as Finalizer from "./Finalizer.js"
export * as Health from "./Health.js"
export {
  type ApplyOptions,
  type DeleteOptions,
  type GetOptions,
  KubeClient,
  type KubeClientService,
  type KubeConfigSource,
  type ListOptions,
  type ListResult,
  type LiveOptions,
  MemoryApiServer,
  type MemoryApiServerService,
  type MemoryOptions,
  type PatchOptions,
  type PatchStatusOptions,
  type RateLimit,
  type WatchEvent,
  type WatchOptions,
  type WriteOptions
} from "./KubeClient.js"
export * as LeaderElection from "./LeaderElection.js"
export * as Metrics from "./Metrics.js"
export * as MicroTime from "./MicroTime.js"
export * as ProcessMetrics from "./ProcessMetrics.js"
export type { KubeObject, ObjectKey, ObjectMeta, OwnerReference, ResourceType } from "./Resource.js"
export * as Resource from "./Resource.js"
export * as Store from "./Store.js"
export * as Supervisor from "./Supervisor.js"
export type { WatcherEvent } from "./Watcher.js"
export * as Watcher from "./Watcher.js"
export * as WorkQueue from "./WorkQueue.js"
export { Action, TerminalError } from "./WorkQueue.js"
