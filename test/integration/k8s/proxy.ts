/**
 * A loopback TCP proxy that can go silent: `freeze` stops forwarding on every connection open now or
 * opened until `thaw` (the sockets stay open, nothing arrives: a stalled connection, no FIN, no RST).
 * Connections opened after `thaw` work. `reset` destroys every connection (a network blip).
 */
import * as net from "node:net"
import { Effect } from "effect"

export interface StallingProxy {
  /** `https://127.0.0.1:<port>` */
  readonly server: string
  readonly freeze: Effect.Effect<void>
  readonly thaw: Effect.Effect<void>
  readonly reset: Effect.Effect<void>
}

export const stallingProxy = (target: string) =>
  Effect.acquireRelease(
    Effect.async<{ proxy: StallingProxy; close: () => void }>((resume) => {
      const upstream = new URL(target)
      let frozen = false
      const connections = new Set<{ client: net.Socket; server: net.Socket; stalled: boolean }>()
      const listener = net.createServer((client) => {
        const server = net.connect({ host: upstream.hostname, port: Number(upstream.port) })
        const connection = { client, server, stalled: frozen }
        connections.add(connection)
        const forward = (from: net.Socket, to: net.Socket) =>
          from.on("data", (chunk) => {
            if (!connection.stalled) to.write(chunk)
          })
        forward(client, server)
        forward(server, client)
        const close = () => {
          connections.delete(connection)
          client.destroy()
          server.destroy()
        }
        client.on("close", close)
        server.on("close", close)
        client.on("error", close)
        server.on("error", close)
      })
      listener.listen({ host: "127.0.0.1", port: 0 }, () => {
        const address = listener.address() as net.AddressInfo
        resume(
          Effect.succeed({
            proxy: {
              server: `https://127.0.0.1:${address.port}`,
              freeze: Effect.sync(() => {
                frozen = true
                for (const c of connections) c.stalled = true
              }),
              thaw: Effect.sync(() => {
                frozen = false
              }),
              reset: Effect.sync(() => {
                for (const c of connections) {
                  c.client.resetAndDestroy()
                  c.server.destroy()
                }
              })
            },
            close: () => {
              for (const c of connections) {
                c.client.destroy()
                c.server.destroy()
              }
              listener.close()
            }
          })
        )
      })
    }),
    ({ close }) => Effect.sync(close)
  ).pipe(Effect.map(({ proxy }) => proxy))
