/**
 * Outbound HTTP/1 Upgrade (WebSocket and friends): the app's upgrade request becomes an extended
 * CONNECT (RFC 8441 §4, `:protocol` = the upgrade token) to the peer, which restores it as an
 * HTTP/1 Upgrade to the workload; the 2xx answer becomes `101 Switching Protocols` here.
 */
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { MeshError, toMeshError } from '../../core/errors.js'
import { endToEndHeaders, headerValue, REQUEST_ID_HEADER } from '../http/headers.js'
import { rawErrorResponse } from '../http/rescue.js'
import { WIRE_HEADERS, type HeaderMap } from '../../transports/contract.js'
import { sessionFor, type OutboundContext } from './context.js'
import { reportTunnel, spliceAndReport } from './tunnel-report.js'
import { reportEarlyAnswer } from './early-answer.js'

/** How far an upgrade got: its service's authority once routed, and whether its tunnel opened. */
interface UpgradeProgress {
  readonly started: number
  authority: string
  /** The tunnel is reported (open and close) as a TCP tunnel from here on, not as a request. */
  opened: boolean
}

/** Handles the `upgrade` event of the outbound HTTP/1 server; never throws. */
export function handleOutboundUpgrade (ctx: OutboundContext, req: IncomingMessage, socket: Socket, head: Buffer): void {
  ctx.inflight.enter()
  const progress: UpgradeProgress = { started: performance.now(), authority: '', opened: false }
  upgrade(ctx, req, socket, head, progress)
    .catch((err: unknown) => {
      const meshErr = toMeshError(err, 'E_PEER_UNREACHABLE')
      ctx.logger.warn({ code: meshErr.code, err: meshErr.message, authority: req.headers.host }, 'outbound upgrade failed')
      // Refused before its tunnel opened: an HTTP request answered with an error, counted as one.
      if (!progress.opened) {
        reportEarlyAnswer(ctx, meshErr, { authority: progress.authority, method: req.method, path: req.url, started: progress.started, requestId: headerValue(req.headers, REQUEST_ID_HEADER) })
      }
      if (socket.writable) socket.end(rawErrorResponse(meshErr, 'Mesh Error'))
      else socket.destroy()
    })
    .finally(() => ctx.inflight.leave())
}

async function upgrade (ctx: OutboundContext, req: IncomingMessage, socket: Socket, head: Buffer, progress: UpgradeProgress): Promise<void> {
  const { started } = progress
  const authority = headerValue(req.headers, 'host')
  const protocol = headerValue(req.headers, 'upgrade')?.split(',')[0]?.trim().toLowerCase()
  if (authority === undefined || protocol === undefined || protocol === '') throw new MeshError('E_BAD_REQUEST', 'upgrade request without Host or Upgrade')
  const service = ctx.router.resolve(authority)
  if (service === undefined) throw new MeshError('E_NO_ROUTE', `no service for authority "${authority}"`)
  progress.authority = authority
  const pick = await ctx.picker.pick(service, 'tunnel')
  const endpoint = pick.endpoint
  const headers = endToEndHeaders(req.headers)
  headers[WIRE_HEADERS.target] = endpoint.target
  headers[WIRE_HEADERS.origProto] = 'HTTP/1.1'
  const connect = { method: 'CONNECT', protocol, authority, path: req.url ?? '/', scheme: 'http' as const, headers }
  let tunnel
  let session
  try {
    session = await sessionFor(ctx, endpoint)
    if (session.spliceTunnel !== undefined) {
      // Native data plane: the engine takes the socket; the 101 goes out first, then the bytes.
      const spliced = await session.spliceTunnel(connect, socket, { idleMs: ctx.timeouts.idleMs, initial: head, deferStart: true })
      progress.opened = true
      spliced.start?.(Buffer.from(switchingProtocols(protocol, endToEndHeaders(spliced.head.headers))))
      await reportTunnel(ctx, { authority, session, pick, started }, async () => await spliced.done)
      return
    }
    tunnel = await session.tunnel(connect)
  } catch (err) {
    pick.done({ ok: false, latencyMs: performance.now() - started })
    throw err
  }
  progress.opened = true
  socket.write(switchingProtocols(protocol, endToEndHeaders(tunnel.head.headers)))
  if (head.length > 0) tunnel.stream.write(head)
  // The pick stays open until the tunnel closes: least-loaded balancing counts open tunnels.
  await spliceAndReport(ctx, socket, tunnel.stream, { authority, session, pick, started, earlyBytesIn: head.length })
}

/** The HTTP/1 `101` head for an accepted upgrade, with the workload's end-to-end headers. */
export function switchingProtocols (protocol: string, headers: HeaderMap): string {
  let out = `HTTP/1.1 101 Switching Protocols\r\nupgrade: ${protocol}\r\nconnection: Upgrade\r\n`
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) out += `${name}: ${v}\r\n`
  }
  return out + '\r\n'
}
