/** The KubeClient contract suite against the in-memory apiserver (the same suite runs against a real one). */
import { layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { KubeClient, MemoryApiServer } from "../src/index.js"
import { ContractHarness } from "./contract/harness.js"
import { compactionSuite, contractSuite } from "./contract/suite.js"

const harness = Layer.effect(
  ContractHarness,
  Effect.map(MemoryApiServer, (server) => ({ compact: server.compact, name: "memory" }))
)

layer(Layer.provideMerge(harness, KubeClient.layerMemory()), { excludeTestServices: true })(
  "KubeClient contract (memory)",
  (it) => {
    contractSuite(it)
    compactionSuite(it)
  }
)
