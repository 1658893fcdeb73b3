/**
 * A redirected connection to a destination no service claims goes there as plain TCP, as
 * Linkerd does: the proxy dials the original IP:port itself (its UID is not redirected again)
 * and pipes bytes both ways, half-close kept. No identity, no mTLS: it was never mesh traffic.
 */
import net, { type Socket } from 'node:net'
import type { OutboundContext } from './context.js'

export function passThrough (ctx: OutboundContext, socket: Socket, host: string, port: number): void {
  ctx.inflight.enter()
  const upstream = net.connect({ host, port, allowHalfOpen: true, noDelay: true })
  let done = false
  const finish = (): void => {
    if (done) return
    done = true
    ctx.inflight.leave()
  }
  const timer = setTimeout(() => upstream.destroy(new Error(`connect to ${host}:${port} took longer than ${ctx.timeouts.connectMs} ms`)), ctx.timeouts.connectMs)
  upstream.once('connect', () => {
    clearTimeout(timer)
    ctx.logger.debug({ destination: `${host}:${port}` }, 'redirected connection to an unknown destination passes through as plain TCP')
    socket.pipe(upstream)
    upstream.pipe(socket)
    socket.resume()
  })
  upstream.on('error', (err) => {
    clearTimeout(timer)
    ctx.logger.info({ destination: `${host}:${port}`, err: err.message }, 'pass-through connection failed')
    socket.destroy()
  })
  socket.on('error', () => upstream.destroy())
  upstream.once('close', () => { socket.destroy(); finish() })
  socket.once('close', () => { upstream.destroy(); finish() })
}
