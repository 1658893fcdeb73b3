/**
 * The sequence both gateway tunnel forwarders share (e2e and terminate): pick a local endpoint
 * of the service with the balancers, open the far side (a failure counts against the endpoint
 * and rejects before any answer), report the tunnel open, splice, report the endpoint's outcome,
 * the bytes to the gateway's metrics and the close to telemetry. Only how the far side is opened
 * and spliced differs.
 */
import type { Pick } from '../balance/types.js'
import { MeshError, toMeshError, type ErrorCode } from '../../core/errors.js'
import type { SpliceResult } from '../tunnel/splice.js'
import { tunnelClose } from '../telemetry.js'
import type { InboundTunnel } from '../../transports/contract.js'
import type { GatewayContext } from './context.js'
import type { CrossingMode } from './exports.js'

type Endpoint = Pick['endpoint']

export interface TunnelLeg<Far> {
  /** Opens the far side to `endpoint`; a rejection becomes `unreachableCode` unless a MeshError. */
  open: (endpoint: Endpoint) => Promise<Far>
  unreachableCode: ErrorCode
  /** Answers the caller and splices both sides; resolves when the tunnel is over. */
  splice: (far: Far, endpoint: Endpoint) => Promise<SpliceResult>
  /** Drops the far side when the splice itself threw. */
  drop: (far: Far) => void
}

/** Relays one tunnel of an authorized `service`; resolves when it ended, rejects before the answer only. */
export async function relayTunnel<Far> (ctx: GatewayContext, tunnel: InboundTunnel, service: string, transport: string, mode: CrossingMode, leg: TunnelLeg<Far>): Promise<void> {
  const started = performance.now()
  const pick = await ctx.picker.pick(service, 'tunnel', tunnel.signal)
  const endpoint = pick.endpoint
  let far: Far
  try {
    far = await leg.open(endpoint)
  } catch (err) {
    pick.done({ ok: false, latencyMs: performance.now() - started })
    throw toMeshError(err, leg.unreachableCode)
  }
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
  let result: SpliceResult
  try {
    result = await leg.splice(far, endpoint)
  } catch (err) {
    leg.drop(far)
    result = { aToB: 0, bToA: 0, error: err instanceof MeshError ? err : toMeshError(err, 'E_UPSTREAM_RESET') }
  } finally {
    pick.done({ ok: true, latencyMs: performance.now() - started })
  }
  ctx.observer.tunnelBytes(service, mode, result.aToB, result.bToA)
  ctx.telemetry.tunnel(tunnelClose(event, result, started))
}
