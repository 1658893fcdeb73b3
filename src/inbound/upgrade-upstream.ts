/**
 * Delivery of an extended CONNECT (RFC 8441) to a local workload as an HTTP/1 Upgrade request:
 * the workload's `101` becomes the tunnel's 200 (with its headers, e.g. Sec-WebSocket-Accept),
 * any other answer refuses the tunnel.
 */
import http from 'node:http'
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { MeshError } from '../../core/errors.js'
import { endToEndHeaders, splitHostPort } from '../http/headers.js'
import { splice, type SpliceResult } from '../tunnel/splice.js'
import type { HeaderMap, InboundTunnel } from '../../transports/contract.js'
import { upstreamError } from './upstream-errors.js'

export async function deliverUpgrade (tunnel: InboundTunnel, address: string, headers: HeaderMap, connectMs: number, idleMs: number): Promise<SpliceResult> {
  const { host, port } = splitHostPort(address)
  const protocol = tunnel.head.protocol ?? 'websocket'
  const { res, socket, head } = await new Promise<{ res: IncomingMessage, socket: Socket, head: Buffer }>((resolve, reject) => {
    const req = http.request({
      host,
      port,
      method: 'GET',
      path: tunnel.head.path === '' ? '/' : tunnel.head.path,
      agent: false,
      timeout: connectMs,
      headers: { ...headers, host: tunnel.head.authority, connection: 'Upgrade', upgrade: protocol },
    })
    req.once('upgrade', (res, socket: Socket, head: Buffer) => resolve({ res, socket, head }))
    req.once('response', (res) => {
      res.resume()
      reject(new MeshError('E_UPSTREAM_RESET', `${address} answered the ${protocol} upgrade with ${res.statusCode ?? 0}, not 101`))
    })
    req.once('timeout', () => req.destroy(new MeshError('E_CONNECT_TIMEOUT', `${address}: no upgrade answer within ${connectMs} ms`)))
    req.once('error', (err) => reject(upstreamError(err, address)))
    tunnel.signal.addEventListener('abort', () => req.destroy(), { once: true })
    req.end()
  })
  socket.on('error', () => {})
  socket.setTimeout(0)
  // Native data plane: the engine splices the workload socket with the stream.
  if (tunnel.acceptSpliced !== undefined) return await tunnel.acceptSpliced(endToEndHeaders(res.headers), socket, head, idleMs)
  const stream = tunnel.accept(endToEndHeaders(res.headers))
  if (head.length > 0) stream.write(head)
  return await splice(stream, socket, { idleMs })
}
