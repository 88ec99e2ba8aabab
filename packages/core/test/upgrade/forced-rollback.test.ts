import { describe, expect, it } from "vitest"
import {
  forcedRollbackEvent,
  mayHoldStalePod,
  revisionLabel,
  stalePods
} from "../../src/internal/upgrade/forced-rollback.js"
import type { KubeObject } from "../../src/render/objects.js"

const statefulSet = (status: Record<string, unknown>, generation = 3): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "StatefulSet",
  metadata: { name: "demo-backend", namespace: "apps", uid: "set-uid", generation },
  spec: { replicas: 1 },
  status
})

/** After the template went back to revision r1 from r2: the controller names r1 both current and update. */
const reverted = statefulSet({
  observedGeneration: 3,
  replicas: 1,
  readyReplicas: 0,
  currentRevision: "demo-backend-r1",
  updateRevision: "demo-backend-r1"
})

const pod = (
  revision: string,
  options: { ready?: boolean; deleting?: boolean; owner?: string; uid?: string } = {}
): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name: "demo-backend-0",
    namespace: "apps",
    uid: options.uid ?? "pod-uid",
    labels: { [revisionLabel]: revision },
    ownerReferences: [
      {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        name: options.owner ?? "demo-backend",
        uid: "set-uid",
        controller: true
      }
    ],
    ...(options.deleting === true ? { deletionTimestamp: "2025-06-01T12:00:00Z" } : {})
  },
  status: {
    phase: "Running",
    conditions: [{ type: "Ready", status: options.ready === true ? "True" : "False" }]
  }
})

describe("forced rollback of the backend StatefulSet", () => {
  it("deletes the not-Ready pod of the reverted revision", () => {
    expect(stalePods(reverted, [pod("demo-backend-r2")])).toEqual([
      { name: "demo-backend-0", uid: "pod-uid", revision: "demo-backend-r2" }
    ])
  })

  it("never deletes a Ready pod, even of a reverted revision", () => {
    expect(stalePods(reverted, [pod("demo-backend-r2", { ready: true })])).toEqual([])
  })

  it("never deletes a pod of the revision the StatefulSet rolls to or keeps (a roll in progress)", () => {
    const rolling = statefulSet({
      observedGeneration: 3,
      readyReplicas: 0,
      currentRevision: "demo-backend-r1",
      updateRevision: "demo-backend-r2"
    })
    expect(stalePods(rolling, [pod("demo-backend-r2")])).toEqual([])
    expect(stalePods(rolling, [pod("demo-backend-r1")])).toEqual([])
    expect(stalePods(reverted, [pod("demo-backend-r1")])).toEqual([])
  })

  it("does not delete a pod already being deleted (never twice)", () => {
    expect(stalePods(reverted, [pod("demo-backend-r2", { deleting: true })])).toEqual([])
  })

  it("waits for a status of the latest generation (a pod may carry a revision an older status does not name)", () => {
    const stale = statefulSet(
      {
        observedGeneration: 2,
        readyReplicas: 0,
        currentRevision: "demo-backend-r1",
        updateRevision: "demo-backend-r1"
      },
      3
    )
    expect(stalePods(stale, [pod("demo-backend-r2")])).toEqual([])
    expect(mayHoldStalePod(stale)).toBe(false)
  })

  it("leaves pods of other owners and pods without a revision alone", () => {
    expect(stalePods(reverted, [pod("demo-backend-r2", { owner: "other-backend" })])).toEqual([])
    const unlabelled = pod("x")
    const { labels: _labels, ...metadata } = unlabelled.metadata
    expect(stalePods(reverted, [{ ...unlabelled, metadata }])).toEqual([])
    expect(stalePods(undefined, [pod("demo-backend-r2")])).toEqual([])
  })

  it("lists pods only while the backend is short of ready pods", () => {
    expect(mayHoldStalePod(reverted)).toBe(true)
    expect(
      mayHoldStalePod(
        statefulSet({
          observedGeneration: 3,
          readyReplicas: 1,
          currentRevision: "demo-backend-r1",
          updateRevision: "demo-backend-r1"
        })
      )
    ).toBe(false)
    expect(mayHoldStalePod(statefulSet({}))).toBe(false)
    expect(mayHoldStalePod(undefined)).toBe(false)
    // A new backend coming up: one template so far, no pod of another revision can exist.
    const coming = {
      observedGeneration: 1,
      readyReplicas: 0,
      currentRevision: "demo-backend-r1",
      updateRevision: "demo-backend-r1"
    }
    expect(mayHoldStalePod(statefulSet(coming, 1))).toBe(false)
    expect(mayHoldStalePod(statefulSet({ ...coming, observedGeneration: 2 }, 2))).toBe(true)
  })

  it("says what it deleted and why", () => {
    const event = forcedRollbackEvent("demo-backend", {
      name: "demo-backend-0",
      uid: "pod-uid",
      revision: "demo-backend-r2"
    })
    expect(event).toMatchObject({ type: "Normal", reason: "ForcedRollback", action: "Rollback" })
    expect(event.message).toContain("deleted pod demo-backend-0")
    expect(event.message).toContain("demo-backend-r2")
    expect(event.message).toContain("Forced rollback")
  })
})
