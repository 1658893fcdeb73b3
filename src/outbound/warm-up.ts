/**
 * Outbound warm-up: one peer session per known peer, dialled once discovery is primed and before
 * the process says it is ready, so the first requests after `/ready` do not each wait for a TCP +
 * TLS (or QUIC) handshake (issue 11's cold start). Bounded: readiness waits for it at most
 * min(connect timeout, 2 s); a peer that is down or slow costs readiness that bound, never more.
 */
import type { Endpoint } from '../discovery/types.js'
import { MeshError, toMeshError } from '../../core/errors.js'
import type { PeerSession } from '../../transports/contract.js'

/** The longest readiness waits for warm-up, ms (2 s; less when `timeouts.connectMs` is shorter). */
export const WARM_UP_MAX_MS = 2_000
/** Dials in flight at once, so a service of hundreds of endpoints is not one burst of handshakes. */
const WARM_UP_CONCURRENCY = 16

export interface WarmUpResult {
  /** Distinct peers (transport, address, identity) warm-up dialled or meant to. */
  peers: number
  /** Peers with a session when warm-up returned. */
  warmed: number
  /** Peers whose dial failed (refused, unreachable, TLS or identity error). */
  failed: number
  /** Peers still dialling (or queued) when the bound ran out; those dials are abandoned. */
  pending: number
  /** The first failure's error code, when any failed. */
  firstError?: string
  elapsedMs: number
}

/**
 * The endpoints worth a session each: one per transport x peer address x expected identity
 * (several targets behind one peer proxy share its sessions). Endpoints behind a remote
 * cluster's gateway (`via`) are left out: their sessions come from the multi-cluster layer.
 */
export function distinctPeers (endpoints: Iterable<Endpoint>): Endpoint[] {
  const byPeer = new Map<string, Endpoint>()
  for (const e of endpoints) {
    if (e.via !== undefined) continue
    const key = `${e.transport}|${e.peer.host}|${e.peer.port}|${e.identity}`
    if (!byPeer.has(key)) byPeer.set(key, e)
  }
  return [...byPeer.values()]
}

/**
 * Dials `dial(endpoint, signal)` for each endpoint (at most WARM_UP_CONCURRENCY at once) and
 * resolves when every dial settled or `boundMs` passed, whichever is first; never rejects. At the
 * bound, dials still running are aborted (`signal`) and those not started are not: a peer that
 * is slow to answer now (one still starting) is dialled afresh by the first request that needs
 * it, instead of that request joining a dial begun before the peer was up. The bound's timer is
 * unref'd and cleared.
 */
export async function warmUp (dial: (endpoint: Endpoint, signal: AbortSignal) => Promise<PeerSession>, endpoints: readonly Endpoint[], boundMs: number): Promise<WarmUpResult> {
  const started = Date.now()
  const result: WarmUpResult = { peers: endpoints.length, warmed: 0, failed: 0, pending: endpoints.length, elapsedMs: 0 }
  let next = 0
  const abandon = new AbortController()
  const worker = async (): Promise<void> => {
    while (next < endpoints.length && !abandon.signal.aborted) {
      const endpoint = endpoints[next++] as Endpoint
      try {
        await dial(endpoint, abandon.signal)
        result.warmed++
      } catch (err) {
        result.failed++
        result.firstError ??= toMeshError(err, 'E_PEER_UNREACHABLE').code
      }
      result.pending--
    }
  }
  const all = Promise.all(Array.from({ length: Math.min(WARM_UP_CONCURRENCY, endpoints.length) }, worker))
  let timer: NodeJS.Timeout | undefined
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, boundMs)
    timer.unref()
  })
  try {
    await Promise.race([all, bound])
  } finally {
    clearTimeout(timer)
  }
  // A snapshot: the dials aborted below settle into `result` later, when nobody reads it.
  const snapshot = { ...result, elapsedMs: Date.now() - started }
  if (result.pending > 0) abandon.abort(new MeshError('E_CONNECT_TIMEOUT', `warm-up bound of ${boundMs} ms reached`))
  return snapshot
}
