/**
 * Terminate mode: the gateway reads each request (or tunnel) of an exported service, picks a
 * local endpoint per stream with the existing balancers, and re-originates it to that inbound
 * under the gateway's own identity (the inbound sees the gateway as the caller). Requests are
 * reported to telemetry like any other, so balancing, metrics and the tap work per request here.
 */
import type { Readable } from 'node:stream'
import { toMeshError } from '../../core/errors.js'
import { headerValue } from '../http/headers.js'
import { GATEWAY_HEADERS } from '../multicluster/wire.js'
import { splice } from '../tunnel/splice.js'
import { WIRE_HEADERS, type HeaderMap, type InboundExchange, type InboundTunnel, type PeerTunnel, type RequestHead } from '../../transports/contract.js'
import type { GatewayContext } from './context.js'
import { relayTunnel } from './relay-tunnel.js'

/** Headers of the gateway hop and those the next inbound sets itself: never forwarded. */
const DROPPED = [GATEWAY_HEADERS.service, GATEWAY_HEADERS.mode, WIRE_HEADERS.clientId, WIRE_HEADERS.target]

function forwardedHead (head: RequestHead, target: string): RequestHead {
  const headers: HeaderMap = { ...head.headers }
  for (const name of DROPPED) delete headers[name]
  headers[WIRE_HEADERS.target] = target
  const authority = head.method === 'CONNECT' && head.protocol === undefined ? target : head.authority
  return { ...head, authority, headers }
}

/** Re-originates one request of an authorized `service`; rejects before the response head only. */
export async function terminateRequest (ctx: GatewayContext, exchange: InboundExchange, service: string, transport: string): Promise<void> {
  const started = performance.now()
  const { head } = exchange
  const pick = await ctx.picker.pick(service, 'request', exchange.signal)
  let status = 0
  let errorCode: string | undefined
  try {
    const session = await ctx.selector.session(pick.endpoint)
    const body: Readable | null = exchange.hasBody ? exchange.body : null
    const response = await session.request(forwardedHead(head, pick.endpoint.target), body, { signal: exchange.signal })
    status = response.head.status
    errorCode = headerValue(response.head.headers, WIRE_HEADERS.error)
    // A 5xx the next meshgate generated counts against the endpoint; the app's own 5xx do not.
    pick.done({ ok: !(status >= 500 && errorCode !== undefined), latencyMs: performance.now() - started })
    exchange.respond(response.head, response.body, response.trailers)
  } catch (err) {
    const meshErr = toMeshError(err, 'E_PEER_UNREACHABLE')
    pick.done({ ok: false, latencyMs: performance.now() - started })
    status = meshErr.status
    errorCode = meshErr.code
    throw meshErr
  } finally {
    ctx.telemetry.request({
      direction: 'gateway',
      protocol: 'http2',
      authority: head.authority,
      method: head.method,
      path: head.path,
      identity: exchange.caller,
      peerIdentity: pick.endpoint.identity,
      transport,
      status,
      errorCode,
      durationSeconds: (performance.now() - started) / 1000,
      requestId: headerValue(head.headers, 'x-request-id') ?? '',
    })
  }
}

/** Re-originates one tunnel (TCP CONNECT or an Upgrade) of an authorized `service`; resolves when it ended. */
export async function terminateTunnel (ctx: GatewayContext, tunnel: InboundTunnel, service: string, transport: string): Promise<void> {
  await relayTunnel<PeerTunnel>(ctx, tunnel, service, transport, 'terminate', {
    open: async (endpoint) => await (await ctx.selector.session(endpoint)).tunnel(forwardedHead(tunnel.head, endpoint.target), { signal: tunnel.signal }),
    unreachableCode: 'E_PEER_UNREACHABLE',
    // The inbound's answer headers (an Upgrade's sec-websocket-accept …) go back to the caller.
    splice: async (peer) => await splice(tunnel.accept(peer.head.headers), peer.stream, { idleMs: ctx.timeouts.idleMs }),
    drop: (peer) => peer.stream.destroy(),
  })
}
