/**
 * A loopback stand-in of the self-hosted Convex backend endpoints the `convex` CLI 1.48 calls for export, import
 * and environment variables, so tests run the real CLI and a wrong flag or endpoint fails them:
 *
 * - `POST /api/export/request/zip?includeStorage=…` (the export completes at once), `GET /api/export/zip/<ts>`,
 *   `POST /api/export/set_expiration/<snapshot id>` with `{"expirationTsNs": <u64>}` (as
 *   get-convex/convex-backend `crates/local_backend/src/snapshot_export.rs`: an unknown id is a 500, a body
 *   without the field a 400), and the backend's purge of expired exports ({@link StandIn.purgeExpired}, as
 *   `ExportsModel::cleanup_expired` in `crates/model/src/exports/mod.rs`);
 * - `POST /api/import/start_upload`, `upload_part`, `finish_upload`, `POST /api/perform_import`, `POST /api/query`
 *   (`_system/cli/queryImport:list`);
 * - `POST /api/update_environment_variables`, and `POST /api/query` for system queries (the JSON the operator
 *   reads variables and exports from);
 * - the sync WebSocket `/api/<version>/sync` answering subscriptions to `_system/cli/queryEnvironmentVariables`,
 *   `_system/cli/exports:getLatest` and `_system/cli/queryImport` with one Transition per change (a minimal
 *   RFC 6455 server: text frames, close and ping; no extensions).
 *
 * Every request is recorded with its method, path, query and whether it carried `Authorization: Convex <key>`.
 */
import { createHash } from "node:crypto"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import type { Duplex } from "node:stream"

export interface Recorded {
  readonly method: string
  readonly path: string
  readonly query: Record<string, string>
  readonly authorized: boolean
  readonly body: string
}

/** A completed snapshot export in the backend's own storage (the `_exports` table and its ZIP). */
export interface StoredExport {
  readonly id: string
  readonly startTs: bigint
  /** Nanoseconds since the epoch; 14 days after the start unless set. */
  expirationTs: bigint
}

/** Convex's `DEFAULT_EXPORT_RETENTION` (crates/model/src/exports/mod.rs). */
export const defaultExportRetentionNs = 14n * 24n * 3600n * 1_000_000_000n

export interface StandIn {
  readonly url: string
  readonly requests: Array<Recorded>
  readonly env: Map<string, string>
  /** Every export the backend still holds, oldest first. */
  readonly exports: Array<StoredExport>
  /** Deletes the exports that expired more than `maxAgeDays` before `nowNs`, as the backend's cleanup does. */
  readonly purgeExpired: (maxAgeDays: number, nowNs: bigint) => void
  /** The ZIP served by GET /api/export/zip/<ts>. */
  exportZip: Buffer
  /** The bytes uploaded by the last import, and its finish_upload arguments. */
  imported: { readonly bytes: Buffer; readonly args: unknown } | undefined
  performed: boolean
  readonly close: () => Promise<void>
}

/** Convex JSON of an int64. */
const int64 = (value: bigint) => {
  const bytes = Buffer.alloc(8)
  bytes.writeBigInt64LE(value)
  return { $integer: bytes.toString("base64") }
}
const u64 = (value: bigint) => {
  const bytes = Buffer.alloc(8)
  bytes.writeBigUInt64LE(value)
  return bytes.toString("base64")
}

const frame = (text: string): Buffer => {
  const payload = Buffer.from(text, "utf8")
  const header =
    payload.length < 126
      ? Buffer.from([0x81, payload.length])
      : payload.length < 65536
        ? Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff])
        : (() => {
            const h = Buffer.alloc(10)
            h[0] = 0x81
            h[1] = 127
            h.writeBigUInt64BE(BigInt(payload.length), 2)
            return h
          })()
  return Buffer.concat([header, payload])
}

export const startStandIn = async (adminKey: string): Promise<StandIn> => {
  const exports: Array<StoredExport> = []
  let exportCount = 0
  const state: StandIn = {
    url: "",
    requests: [],
    env: new Map(),
    exports,
    purgeExpired: (maxAgeDays, nowNs) => {
      const before = nowNs - BigInt(maxAgeDays) * 24n * 3600n * 1_000_000_000n
      for (let i = exports.length - 1; i >= 0; i--) if ((exports[i]?.expirationTs ?? 0n) < before) exports.splice(i, 1)
    },
    exportZip: Buffer.from("PK\u0005\u0006".padEnd(22, "\u0000"), "latin1"),
    imported: undefined,
    performed: false,
    close: async () => {}
  }
  let uploadParts: Array<Buffer> = []
  const authorized = (request: IncomingMessage) => request.headers.authorization === `Convex ${adminKey}`

  /** The value of a query, as the backend's system functions answer it. */
  const queryValue = (udfPath: string): unknown => {
    switch (udfPath.replace(/\.js(?=:|$)/, "").replace(/:default$/, "")) {
      case "_system/cli/queryEnvironmentVariables":
        // The documents of `_environment_variables`, by name (the query reads its `by_name` index).
        return [...state.env]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([name, value], i) => ({ _id: `k57env${i}`, _creationTime: 1.75e12, name, value }))
      case "_system/cli/exports:getLatest": {
        const latest = exports.at(-1)
        return latest === undefined
          ? null
          : {
              _id: latest.id,
              state: "completed",
              requestor: "snapshotExport",
              start_ts: int64(latest.startTs),
              complete_ts: int64(latest.startTs),
              expiration_ts: int64(latest.expirationTs)
            }
      }
      case "_system/cli/queryImport":
        // The import document; its `state` field is the state machine the CLI follows.
        return {
          state: state.performed
            ? { state: "completed", num_rows_written: int64(3n), checkpoint_messages: [] }
            : {
                state: "waiting_for_confirmation",
                message_to_confirm: "Replace all data",
                require_manual_confirmation: false,
                checkpoint_messages: []
              }
        }
      case "_system/cli/queryImport:list":
        return []
      default:
        return null
    }
  }

  const server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://stand-in")
      const body = Buffer.concat(chunks)
      state.requests.push({
        method: request.method ?? "",
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        authorized: authorized(request),
        body: url.pathname === "/api/import/upload_part" ? `<${body.length} bytes>` : body.toString("utf8")
      })
      const json = (status: number, value: unknown) => {
        response.writeHead(status, { "content-type": "application/json" })
        response.end(JSON.stringify(value))
      }
      if (!authorized(request) && url.pathname !== "/version") {
        return json(401, { code: "BadAdminKey", message: "The provided admin key was invalid" })
      }
      const route = `${request.method} ${url.pathname}`
      if (route === "POST /api/export/request/zip") {
        exportCount++
        // Snapshot timestamps are nanoseconds and grow: the wall clock, or one past the last.
        const now = BigInt(Date.now()) * 1_000_000n
        const last = exports.at(-1)?.startTs ?? 0n
        const startTs = now > last ? now : last + 1n
        exports.push({ id: `k57exp${exportCount}`, startTs, expirationTs: startTs + defaultExportRetentionNs })
        return json(200, {})
      }
      const zipTs = /^GET \/api\/export\/zip\/(\d+)$/.exec(route)?.[1]
      if (zipTs !== undefined) {
        if (!exports.some((e) => e.startTs === BigInt(zipTs))) {
          return json(404, { code: "ExportNotFound", message: `The requested export ${zipTs} was not found` })
        }
        response.writeHead(200, { "content-type": "application/zip" })
        return response.end(state.exportZip)
      }
      const expireId = /^POST \/api\/export\/set_expiration\/([^/]+)$/.exec(route)?.[1]
      if (expireId !== undefined) {
        // serde reads a u64: digits, taken here without a JavaScript number's rounding.
        const digits = /^\s*\{\s*"expirationTsNs"\s*:\s*(\d+)\s*\}\s*$/.exec(body.toString("utf8"))?.[1]
        if (digits === undefined) {
          return json(400, { code: "BadJsonBody", message: "Failed to deserialize the JSON body" })
        }
        const target = exports.find((e) => e.id === decodeURIComponent(expireId))
        if (target === undefined) return json(500, { code: "InternalServerError", message: "Snapshot not found" })
        target.expirationTs = BigInt(digits)
        response.writeHead(200)
        return response.end()
      }
      if (route === "POST /api/update_environment_variables") {
        const { changes } = JSON.parse(body.toString("utf8")) as {
          changes: Array<{ name: string; value: string | null }>
        }
        for (const { name, value } of changes) {
          if (value === null) state.env.delete(name)
          else state.env.set(name, value)
        }
        return json(200, {})
      }
      if (route === "POST /api/import/start_upload") {
        uploadParts = []
        return json(200, { uploadToken: "upload-1" })
      }
      if (route === "POST /api/import/upload_part") {
        uploadParts.push(body)
        return json(200, `part-${uploadParts.length}`)
      }
      if (route === "POST /api/import/finish_upload") {
        const parsed = JSON.parse(body.toString("utf8")) as { import: unknown }
        state.imported = { bytes: Buffer.concat(uploadParts), args: parsed.import }
        return json(200, { importId: "import-1" })
      }
      if (route === "POST /api/perform_import") {
        state.performed = true
        return json(200, {})
      }
      if (route === "POST /api/query") {
        const { path } = JSON.parse(body.toString("utf8")) as { path: string }
        return json(200, { status: "success", value: queryValue(path), logLines: [] })
      }
      json(404, { code: "NotFound", message: `stand-in: no route ${route}` })
    })
  })

  const sockets = new Set<Duplex>()
  server.on("upgrade", (request: IncomingMessage, socket: Duplex) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    const url = new URL(request.url ?? "/", "http://stand-in")
    state.requests.push({ method: "WS", path: url.pathname, query: {}, authorized: false, body: "" })
    const key = request.headers["sec-websocket-key"]
    if (!/^\/api\/[^/]+\/sync$/.test(url.pathname) || typeof key !== "string") {
      socket.end("HTTP/1.1 404 Not Found\r\n\r\n")
      return
    }
    const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64")
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`
    )
    const queries = new Map<number, string>()
    let version = { querySet: 0, identity: 0, ts: 0n }
    let buffered = Buffer.alloc(0)
    const send = (message: unknown) => socket.write(frame(JSON.stringify(message)))
    const transition = (next: { querySet: number; identity: number }, ids: ReadonlyArray<number>) => {
      const end = { ...next, ts: version.ts + 1n }
      send({
        type: "Transition",
        startVersion: { querySet: version.querySet, identity: version.identity, ts: u64(version.ts) },
        endVersion: { querySet: end.querySet, identity: end.identity, ts: u64(end.ts) },
        modifications: ids.map((queryId) => ({
          type: "QueryUpdated",
          queryId,
          value: queryValue(queries.get(queryId) ?? ""),
          logLines: [],
          journal: null
        }))
      })
      version = end
    }
    let identity = 0
    const onMessage = (text: string) => {
      const message = JSON.parse(text) as {
        type: string
        baseVersion?: number
        newVersion?: number
        tokenType?: string
        value?: string
        modifications?: Array<{ type: string; queryId: number; udfPath?: string }>
      }
      if (message.type === "Authenticate") {
        identity = (message.baseVersion ?? 0) + 1
        if (message.tokenType === "Admin" && message.value === adminKey) {
          state.requests.push({ method: "WS", path: "Authenticate", query: {}, authorized: true, body: "" })
        }
      } else if (message.type === "ModifyQuerySet") {
        for (const modification of message.modifications ?? []) {
          if (modification.type === "Add") queries.set(modification.queryId, modification.udfPath ?? "")
          if (modification.type === "Remove") queries.delete(modification.queryId)
          state.requests.push({
            method: "WS",
            path: `${modification.type} ${modification.udfPath ?? modification.queryId}`,
            query: {},
            authorized: identity > 0,
            body: ""
          })
        }
        transition(
          { querySet: message.newVersion ?? version.querySet, identity },
          (message.modifications ?? []).filter((m) => m.type === "Add").map((m) => m.queryId)
        )
      }
    }
    // Re-answer every subscription as state changes (an import confirmed, an export requested).
    const poll = setInterval(() => {
      if (queries.size > 0 && !socket.destroyed)
        transition({ querySet: version.querySet, identity }, [...queries.keys()])
    }, 100)
    socket.on("close", () => clearInterval(poll))
    socket.on("error", () => clearInterval(poll))
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      for (;;) {
        if (buffered.length < 2) return
        const opcode = (buffered[0] ?? 0) & 0x0f
        const masked = ((buffered[1] ?? 0) & 0x80) !== 0
        let length = (buffered[1] ?? 0) & 0x7f
        let offset = 2
        if (length === 126) {
          if (buffered.length < 4) return
          length = buffered.readUInt16BE(2)
          offset = 4
        } else if (length === 127) {
          if (buffered.length < 10) return
          length = Number(buffered.readBigUInt64BE(2))
          offset = 10
        }
        const maskOffset = offset
        if (masked) offset += 4
        if (buffered.length < offset + length) return
        const payload = Buffer.from(buffered.subarray(offset, offset + length))
        if (masked)
          for (let i = 0; i < payload.length; i++)
            payload[i] = (payload[i] ?? 0) ^ (buffered[maskOffset + (i % 4)] ?? 0)
        buffered = buffered.subarray(offset + length)
        if (opcode === 0x1) onMessage(payload.toString("utf8"))
        else if (opcode === 0x9) socket.write(Buffer.concat([Buffer.from([0x8a, payload.length]), payload]))
        else if (opcode === 0x8) {
          socket.end(Buffer.from([0x88, 0]))
          return
        }
      }
    })
  })

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  })
}
