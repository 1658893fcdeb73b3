/**
 * Free loopback ports for generated configs. The kernel picks them (listen on port 0), so two
 * benches or a test suite running at the same time do not collide on fixed numbers.
 */
import { createServer } from 'node:net'

/** A port that was free on 127.0.0.1 a moment ago. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** `count` distinct free ports. */
export async function freePorts (count: number): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < count) ports.add(await freePort())
  return [...ports]
}
