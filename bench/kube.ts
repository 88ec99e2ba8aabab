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
  /** GET a list of the objects' metadata only (PartialObjectMetadataList: a fleet's Secrets without their data). */
  readonly listMetadata: (path: string) => Promise<ReadonlyArray<Json>>
}

export const makeApi = (http: KubeHttp): Api => {
  const call = (
    method: "GET" | "POST" | "PATCH" | "DELETE",
    path: string,
    body?: unknown,
    contentType?: string,
    accept?: string
  ) =>
    Effect.runPromise(
      http.request({
        method,
        path,
        body,
        timeoutMillis: 120_000,
        ...(contentType === undefined ? {} : { contentType }),
        ...(accept === undefined ? {} : { accept })
      })
    ).then((response) => ({
      status: response.status,
      body: (response.body ?? {}) as Json
    }))
  const list = async (path: string, accept?: string) => {
    const response = await call("GET", path, undefined, undefined, accept)
    if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${JSON.stringify(response.body)}`)
    return (response.body.items ?? []) as ReadonlyArray<Json>
  }
  return {
    call,
    list,
    listMetadata: (path) => list(path, "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1")
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
