/**
 * An end-to-end tunnel through the gateway: authorize the caller for the exported service, pick
 * one of its local endpoints with the existing balancers, connect to that inbound's listener and
 * splice. The bytes are the caller's own TLS session with the inbound: the gateway never reads
 * them. The 200 names the identity the inbound will present and the workload target, so the
 * caller can check one and send the other inside.
 */
import { formatHostPort } from '../config/address.js'
import { MeshError, toMeshError } from '../../core/errors.js'
import { connectTcp } from '../inbound/tcp-upstream.js'
import { GATEWAY_HEADERS } from '../multicluster/wire.js'
import { splice, type SpliceResult } from '../tunnel/splice.js'
import { WIRE_HEADERS, type InboundTunnel } from '../../transports/contract.js'
import type { GatewayContext } from './context.js'

/** Relays one e2e tunnel for an authorized `service`; resolves when it has ended. Rejects before the 200 only. */
export async function forwardE2e (ctx: GatewayContext, tunnel: InboundTunnel, service: string, transport: string): Promise<void> {
  const started = performance.now()
  const pick = await ctx.picker.pick(service, 'tunnel', tunnel.signal)
  const endpoint = pick.endpoint
  let socket
  try {
    // The inbound's listener port carries h2 over TLS on TCP: the inner session is exactly that.
    socket = await connectTcp(formatHostPort(endpoint.peer.host, endpoint.peer.port), ctx.timeouts.connectMs, tunnel.signal)
  } catch (err) {
    pick.done({ ok: false, latencyMs: performance.now() - started })
    throw toMeshError(err, 'E_UPSTREAM_UNREACHABLE')
  }
  socket.on('error', () => {})
  const headers = { [GATEWAY_HEADERS.peerIdentity]: endpoint.identity, [WIRE_HEADERS.target]: endpoint.target }
  const event = {
    direction: 'gateway' as const,
    authority: service,
    identity: tunnel.caller,
    peerIdentity: endpoint.identity,
    transport,
    errorCode: undefined as string | undefined,
    bytesIn: 0,
    bytesOut: 0,
    durationSeconds: 0,
  }
  ctx.telemetry.tunnel({ ...event, phase: 'open' })
  let result: SpliceResult | undefined
  try {
    // Native data path: the engine splices the CONNECT stream with the inbound socket.
    result = tunnel.acceptSpliced !== undefined
      ? await tunnel.acceptSpliced(headers, socket, Buffer.alloc(0), ctx.timeouts.idleMs)
      : await splice(tunnel.accept(headers), socket, { idleMs: ctx.timeouts.idleMs })
  } catch (err) {
    socket.destroy()
    result = { aToB: 0, bToA: 0, error: err instanceof MeshError ? err : toMeshError(err, 'E_UPSTREAM_RESET') }
  } finally {
    pick.done({ ok: true, latencyMs: performance.now() - started })
  }
  ctx.observer.tunnelBytes(service, 'e2e', result.aToB, result.bToA)
  ctx.telemetry.tunnel({
    ...event,
    phase: 'close',
    errorCode: result.error?.code,
    bytesIn: result.aToB,
    bytesOut: result.bToA,
    durationSeconds: (performance.now() - started) / 1000,
  })
}
