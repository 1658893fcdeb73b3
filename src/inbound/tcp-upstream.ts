/**
 * Delivery of a CONNECT tunnel to a local TCP workload: connect first, answer 200 only once the
 * workload accepted (so a refused target is an error answer, not an empty tunnel), then splice.
 */
import { lookup } from 'node:dns/promises'
import net from 'node:net'
import type { Socket } from 'node:net'
import type { DuplexOptions } from 'node:stream'
import { MeshError } from '../../core/errors.js'
import { splitHostPort } from '../http/headers.js'
import { SOCKET_BUFFER_BYTES, splice, type SpliceResult } from '../tunnel/splice.js'
import type { InboundTunnel } from '../../transports/contract.js'
import { upstreamError } from './upstream-errors.js'

/** Opens a TCP connection to `address` within `timeoutMs`. Rejects with a MeshError. */
export async function connectTcp (address: string, timeoutMs: number, signal?: AbortSignal): Promise<Socket> {
  const { host, port } = splitHostPort(address)
  return await new Promise((resolve, reject) => {
    // The buffer size goes to the constructor: node passes it to the Duplex, @types/node lacks it.
    const socketOptions: net.SocketConstructorOpts & DuplexOptions = { allowHalfOpen: true, highWaterMark: SOCKET_BUFFER_BYTES }
    const socket = new net.Socket(socketOptions).connect({ host, port: port ?? 0, noDelay: true })
    const timer = setTimeout(() => { socket.destroy(); reject(new MeshError('E_CONNECT_TIMEOUT', `${address}: connect timed out after ${timeoutMs} ms`)) }, timeoutMs)
    const onAbort = (): void => { socket.destroy(); reject(new MeshError('E_UPSTREAM_RESET', `${address}: the caller went away`)) }
    signal?.addEventListener('abort', onAbort, { once: true })
    socket.once('connect', () => { clearTimeout(timer); signal?.removeEventListener('abort', onAbort); resolve(socket) })
    socket.once('error', (err) => { clearTimeout(timer); signal?.removeEventListener('abort', onAbort); reject(upstreamError(err, address)) })
  })
}

/**
 * Connects the tunnel to `address`; resolves when the tunnel has ended either way. On the native
 * data path the engine connects and splices, and no byte of the tunnel crosses into JS.
 */
export async function deliverTcp (tunnel: InboundTunnel, address: string, connectMs: number, idleMs: number): Promise<SpliceResult> {
  if (tunnel.spliceTo !== undefined) {
    const { host, port } = splitHostPort(address)
    let ip = host
    if (net.isIP(host) === 0) {
      try {
        ip = (await lookup(host)).address
      } catch (err) {
        throw upstreamError(err, address)
      }
    }
    return await tunnel.spliceTo(ip, port ?? 0, connectMs, idleMs)
  }
  const socket = await connectTcp(address, connectMs, tunnel.signal)
  socket.on('error', () => {})
  const stream = tunnel.accept()
  return await splice(stream, socket, { idleMs })
}
