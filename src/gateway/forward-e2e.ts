/**
 * An end-to-end tunnel through the gateway: authorize the caller for the exported service, pick
 * one of its local endpoints with the existing balancers, connect to that inbound's listener and
 * splice. The bytes are the caller's own TLS session with the inbound: the gateway never reads
 * them. The 200 names the identity the inbound will present and the workload target, so the
 * caller can check one and send the other inside.
 */
import type { Socket } from 'node:net'
import { formatHostPort } from '../config/address.js'
import { connectTcp } from '../inbound/tcp-upstream.js'
import { GATEWAY_HEADERS } from '../multicluster/wire.js'
import { splice } from '../tunnel/splice.js'
import { WIRE_HEADERS, type InboundTunnel } from '../../transports/contract.js'
import type { GatewayContext } from './context.js'
import { relayTunnel } from './relay-tunnel.js'

/** Relays one e2e tunnel for an authorized `service`; resolves when it has ended. Rejects before the 200 only. */
export async function forwardE2e (ctx: GatewayContext, tunnel: InboundTunnel, service: string, transport: string): Promise<void> {
  await relayTunnel<Socket>(ctx, tunnel, service, transport, 'e2e', {
    open: async (endpoint) => {
      // The inbound's listener port carries h2 over TLS on TCP: the inner session is exactly that.
      const socket = await connectTcp(formatHostPort(endpoint.peer.host, endpoint.peer.port), ctx.timeouts.connectMs, tunnel.signal)
      socket.on('error', () => {})
      return socket
    },
    unreachableCode: 'E_UPSTREAM_UNREACHABLE',
    splice: async (socket, endpoint) => {
      const headers = { [GATEWAY_HEADERS.peerIdentity]: endpoint.identity, [WIRE_HEADERS.target]: endpoint.target }
      // Native data path: the engine splices the CONNECT stream with the inbound socket.
      return tunnel.acceptSpliced !== undefined
        ? await tunnel.acceptSpliced(headers, socket, Buffer.alloc(0), ctx.timeouts.idleMs)
        : await splice(tunnel.accept(headers), socket, { idleMs: ctx.timeouts.idleMs })
    },
    drop: (socket) => socket.destroy(),
  })
}
