/**
 * The benchmark's own client: the test harness's minimal HTTPS client (keep-alive, 16 sockets, no discovery, no
 * retries), as promises, plus a bounded-concurrency map. The same client creates the floor's objects.
 */
import { Effect } from "effect"
import type { KubeHttp } from "../test/cluster/kube-http.js"

// biome-ignore lint/suspicious/noExplicitAny: apiserver JSON, read field by field
export type Json = Record<string, any>

export interface Api {
  readonly call: (
    method: "GET" | "POST" | "PATCH" | "DELETE",
    path: string,
    body?: unknown,
    contentType?: string
  ) => Promise<{ readonly status: number; readonly body: Json }>
  /** GET a list; its items. */
  readonly list: (path: string) => Promise<ReadonlyArray<Json>>
}

export const makeApi = (http: KubeHttp): Api => {
  const call: Api["call"] = (method, path, body, contentType) =>
    Effect.runPromise(
      http.request({
        method,
        path,
        body,
        timeoutMillis: 120_000,
        ...(contentType === undefined ? {} : { contentType })
      })
    ).then((response) => ({
      status: response.status,
      body: (response.body ?? {}) as Json
    }))
  return {
    call,
    list: async (path) => {
      const response = await call("GET", path)
      if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${JSON.stringify(response.body)}`)
      return response.body.items ?? []
    }
  }
}

/** Runs `task` over `items`, at most `concurrency` at once. */
export const forEachLimited = async <A>(
  items: ReadonlyArray<A>,
  concurrency: number,
  task: (item: A, index: number) => Promise<void>
): Promise<void> => {
  let next = 0
  const worker = async () => {
    for (;;) {
      const index = next++
      if (index >= items.length) return
      await task(items[index] as A, index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
}

export const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))
