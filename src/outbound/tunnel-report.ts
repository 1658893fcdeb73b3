/**
 * The end of every outbound tunnel (TCP or HTTP Upgrade): splice the app socket with the peer's
 * CONNECT stream, tell the balancer how the tunnel went once it closes (least-loaded counts open
 * tunnels), and report open and close to telemetry.
 */
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Pick } from '../balance/types.js'
import { splice, type SpliceResult } from '../tunnel/splice.js'
import { tunnelClose } from '../telemetry.js'
import type { PeerSession } from '../../transports/contract.js'
import type { OutboundContext } from './context.js'

export interface TunnelReport {
  /** Service (TCP) or authority (Upgrade) the tunnel is reported under. */
  authority: string
  session: PeerSession
  pick: Pick
  /** When the tunnel was asked for (performance.now()). */
  started: number
  /** Bytes the app sent before the splice began (an Upgrade's early data), counted as bytes in. */
  earlyBytesIn?: number
}

/** Splices `socket` with `stream` until both directions end; resolves with what moved. */
export async function spliceAndReport (ctx: OutboundContext, socket: Socket, stream: Duplex, report: TunnelReport): Promise<SpliceResult> {
  return await reportTunnel(ctx, report, async () => {
    socket.resume()
    return await splice(socket, stream, { idleMs: ctx.timeouts.idleMs })
  })
}

/**
 * Reports a tunnel's open at once and its close when `moved` settles (a JS splice, or a native
 * engine's splice record), and tells the balancer how it went.
 */
export async function reportTunnel (ctx: OutboundContext, report: TunnelReport, moved: () => Promise<SpliceResult>): Promise<SpliceResult> {
  const { session, pick, started } = report
  const openedMs = performance.now() - started
  const event = {
    direction: 'outbound' as const,
    authority: report.authority,
    identity: ctx.identity,
    peerIdentity: session.peerIdentity,
    transport: session.transport,
    errorCode: undefined as string | undefined,
    bytesIn: 0,
    bytesOut: 0,
    durationSeconds: 0,
  }
  ctx.telemetry.tunnel({ ...event, phase: 'open' })
  let result: SpliceResult | undefined
  try {
    result = await moved()
  } finally {
    pick.done({ ok: result?.error?.code !== 'E_PEER_RESET', latencyMs: openedMs })
  }
  ctx.telemetry.tunnel(tunnelClose(event, result, started, report.earlyBytesIn))
  return result
}
