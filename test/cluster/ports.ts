/** Free TCP ports on 127.0.0.1, found by binding port 0. */
import * as net from "node:net"
import { Effect } from "effect"

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on("error", reject)
    server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** `count` distinct free ports (another process may still take one before we bind it; rare). */
export const freePorts = (count: number) =>
  Effect.promise(async () => {
    const ports = new Set<number>()
    while (ports.size < count) ports.add(await freePort())
    return [...ports]
  })
