// Tells "nobody listens on that UDP port" apart from "the peer is slow" while a QUIC handshake runs.
import { createSocket, type Socket } from 'node:dgram'
import { isIP } from 'node:net'

/** When the probes go out, ms after the start: an ICMP answer may be lost like any packet. */
const PROBE_AT_MS = [0, 50, 250, 1000]

/**
 * Sends empty UDP datagrams from a connected socket to `host:port` and calls `onRefused` if the
 * kernel reports ICMP port unreachable (ECONNREFUSED). The QUIC endpoint's own socket is not
 * connected (it serves many peers), and Linux reports ICMP errors only to connected sockets, so a
 * closed UDP port would otherwise look like a silent peer until the connect timeout. A QUIC
 * server drops empty datagrams (RFC 9000 §14.1: Initial packets are at least 1200 bytes).
 * Returns the function that stops probing.
 */
export function probeUdpPort (host: string, port: number, onRefused: (err: Error) => void): () => void {
  const family = isIP(host)
  if (family === 0) return () => {}
  let socket: Socket | undefined = createSocket(family === 6 ? 'udp6' : 'udp4')
  const timers: NodeJS.Timeout[] = []
  const stop = (): void => {
    for (const t of timers) clearTimeout(t)
    const s = socket
    socket = undefined
    try { s?.close() } catch {}
  }
  socket.on('error', (err: NodeJS.ErrnoException) => {
    const refused = err.code === 'ECONNREFUSED'
    stop()
    if (refused) onRefused(err)
  })
  socket.unref()
  socket.connect(port, host, () => {
    for (const at of PROBE_AT_MS) {
      const t = setTimeout(() => socket?.send(Buffer.alloc(0), () => {}), at)
      t.unref()
      timers.push(t)
    }
  })
  return stop
}
