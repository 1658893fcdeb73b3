/**
 * The events the data path reports, in one place. Roles call these hooks; metrics, the tap and
 * access logs subscribe. Kept as plain records so the hot path builds one object per exchange.
 */

export type Direction = 'outbound' | 'inbound' | 'gateway'

/** One HTTP exchange as seen by a role, reported when the response head is known (or failed). */
export interface RequestEvent {
  /** The route the request took (outbound, services with routes), else undefined. */
  route?: string
  direction: Direction
  /** The protocol the app spoke: `http1`, `http2`. */
  protocol: string
  authority: string
  method: string
  path: string
  /** Caller identity (inbound: verified peer; outbound: this workload). */
  identity: string
  /** Peer identity (outbound) or empty. */
  peerIdentity: string
  transport: string
  status: number
  /** Set when meshgate answered with an error itself. */
  errorCode?: string
  /** Request start to response head, seconds. */
  durationSeconds: number
  requestId: string
}

/** Fires when the response (or tunnel) body completes, with bytes moved. */
export interface RequestEndEvent {
  /** The route, as in the RequestEvent. */
  route?: string
  direction: Direction
  authority: string
  status: number
  requestBytes: number
  responseBytes: number
  /** Request start to end of response body, seconds. */
  totalSeconds: number
  /** The same as the exchange's RequestEvent, when the role has them (metrics label responses with them). */
  identity?: string
  peerIdentity?: string
  transport?: string
  errorCode?: string
}

export interface TunnelEvent {
  direction: Direction
  /** Service (outbound) or target (inbound). */
  authority: string
  identity: string
  peerIdentity: string
  transport: string
  phase: 'open' | 'close'
  errorCode?: string
  bytesIn: number
  bytesOut: number
  durationSeconds: number
}

/**
 * The close record of a tunnel whose open record was `opened`, from what its splice moved:
 * bytes in are the splice's a→b (plus `earlyBytesIn` read before it began), duration since
 * `startedMs` (performance.now()).
 */
export function tunnelClose (opened: Omit<TunnelEvent, 'phase'>, moved: { aToB: number, bToA: number, error: { code: string } | undefined }, startedMs: number, earlyBytesIn = 0): TunnelEvent {
  return {
    ...opened,
    phase: 'close',
    errorCode: moved.error?.code,
    bytesIn: moved.aToB + earlyBytesIn,
    bytesOut: moved.bToA,
    durationSeconds: (performance.now() - startedMs) / 1000,
  }
}

/** What roles report to. Every method optional-free: use `noopTelemetry` as the base. */
export interface Telemetry {
  request: (event: RequestEvent) => void
  requestEnd: (event: RequestEndEvent) => void
  tunnel: (event: TunnelEvent) => void
}

export const noopTelemetry: Telemetry = {
  request: () => {},
  requestEnd: () => {},
  tunnel: () => {},
}

/** Fans one event out to several subscribers. */
export function combineTelemetry (...parts: Telemetry[]): Telemetry {
  return {
    request: (e) => { for (const p of parts) p.request(e) },
    requestEnd: (e) => { for (const p of parts) p.requestEnd(e) },
    tunnel: (e) => { for (const p of parts) p.tunnel(e) },
  }
}
