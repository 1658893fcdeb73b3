/**
 * Outbound TCP: an opaque app connection becomes a CONNECT stream to the peer of one endpoint of
 * the listener's service (`:authority` = the workload target, as in Istio's HBONE), spliced with
 * half-close carried both ways.
 */
import type { Socket } from 'node:net'
import { MeshError, toMeshError } from '../../core/errors.js'
import { WIRE_HEADERS } from '../../transports/contract.js'
import { sessionFor, type OutboundContext } from './context.js'
import { reportTunnel, spliceAndReport } from './tunnel-report.js'

/** Carries one app connection to `service`; never throws (failures close the socket and are logged). */
export function handleOutboundTcp (ctx: OutboundContext, socket: Socket, service: string | undefined): void {
  ctx.inflight.enter()
  tunnelTcp(ctx, socket, service)
    .catch((err: unknown) => {
      const meshErr = toMeshError(err, 'E_PEER_UNREACHABLE')
      ctx.logger.warn({ code: meshErr.code, err: meshErr.message, service }, 'outbound tcp connection refused')
      socket.destroy()
    })
    .finally(() => ctx.inflight.leave())
}

async function tunnelTcp (ctx: OutboundContext, socket: Socket, service: string | undefined): Promise<void> {
  const started = performance.now()
  if (service === undefined) throw new MeshError('E_NO_ROUTE', 'opaque TCP on a listener with no tcpService')
  const abort = new AbortController()
  const onGone = (): void => abort.abort(new MeshError('E_UPSTREAM_RESET', 'the client closed before the tunnel opened'))
  socket.once('close', onGone)
  let pick
  try {
    pick = await ctx.picker.pick(service, 'tunnel', abort.signal)
  } catch (err) {
    socket.off('close', onGone)
    throw err
  }
  const endpoint = pick.endpoint
  const timer = setTimeout(() => abort.abort(new MeshError('E_CONNECT_TIMEOUT', `tunnel not open within ${ctx.timeouts.connectMs} ms`)), ctx.timeouts.connectMs)
  const head = { method: 'CONNECT', authority: endpoint.target, path: '', scheme: 'http' as const, headers: { [WIRE_HEADERS.target]: endpoint.target } }
  let tunnel
  let session
  try {
    session = await sessionFor(ctx, endpoint)
    if (session.spliceTunnel !== undefined) {
      // Native data path: the engine takes the socket over and moves its bytes; JS hears the
      // open (here) and the close (the splice record).
      socket.off('close', onGone)
      const spliced = await session.spliceTunnel(head, socket, { signal: abort.signal, idleMs: ctx.timeouts.idleMs })
      clearTimeout(timer)
      const result = await reportTunnel(ctx, { authority: service, session, pick, started }, async () => await spliced.done)
      if (result.error !== undefined) ctx.logger.debug({ code: result.error.code, err: result.error.message, service }, 'tunnel ended by failure')
      return
    }
    tunnel = await session.tunnel(head, { signal: abort.signal })
  } catch (err) {
    pick.done({ ok: false, latencyMs: performance.now() - started })
    throw abort.signal.aborted && abort.signal.reason instanceof MeshError ? abort.signal.reason : err
  } finally {
    clearTimeout(timer)
    socket.off('close', onGone)
  }
  // The pick stays open until the tunnel closes: least-loaded balancing counts open tunnels.
  const result = await spliceAndReport(ctx, socket, tunnel.stream, { authority: service, session, pick, started })
  if (result.error !== undefined) ctx.logger.debug({ code: result.error.code, err: result.error.message, service }, 'tunnel ended by failure')
}
