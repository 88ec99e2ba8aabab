/** Scheduling semantics of the controller's work queue (the shared contract in scheduler-contract.ts). */
import { describe } from "@effect/vitest"
import { WorkQueue } from "../src/index.js"
import { schedulerContract } from "./scheduler-contract.js"

describe("WorkQueue", () => {
  schedulerContract(WorkQueue.make)
})
