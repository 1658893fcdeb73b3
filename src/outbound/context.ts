/**
 * Everything the outbound data path needs, assembled once by the role and passed to the
 * per-protocol handlers.
 */
import type { Logger } from 'pino'
import type { Timeouts } from '../config/types.js'
import type { AppClientObserver } from './app-observer.js'
import { MeshError } from '../../core/errors.js'
import type { Endpoint } from '../discovery/types.js'
import type { PluginChain } from '../plugins/plugin-chain.js'
import type { TrafficPolicy } from '../route/policy.js'
import type { Telemetry } from '../telemetry.js'
import type { PeerSession, Transport } from '../../transports/contract.js'
import type { TransportRegistry } from '../../transports/registry.js'
import type { AuthorityRouter } from './router.js'
import type { EndpointPicker } from './endpoint-picker.js'
import type { SessionPool } from './session-pool.js'
import { selectorFor } from './transport-selector.js'

export interface OutboundContext {
  router: AuthorityRouter
  picker: EndpointPicker
  pool: SessionPool
  transports: TransportRegistry
  timeouts: Timeouts
  telemetry: Telemetry
  logger: Logger
  /** This workload's own identity (reported as the caller of outbound traffic). */
  identity: string
  /** In-flight exchanges and tunnels, for draining. */
  inflight: InflightCounter
  /** Sessions for endpoints that are a remote cluster's gateway (`endpoint.via`); multi-cluster only. */
  remote?: RemoteSessionSource
  /** The Proxy-Wasm plugins of the listener (absent: none, and no plugin step is taken). */
  plugins?: PluginChain
  /** The listener's name (set with `plugins`). */
  listenerName?: string
  /** App clients that hit a listener's limits, for metrics (absent: not counted). */
  appClients?: AppClientObserver
  /** Routes, splits, retries and timeouts (src/route); replaced whole on a config reload. */
  policy?: TrafficPolicy
  /** Transparent listeners: a redirected socket's original destination (undefined: not redirected). */
  originalDestination?: (socket: import('node:net').Socket) => { host: string, port: number } | undefined
  /** Transparent listeners: the service an original destination IP:port belongs to. */
  serviceByAddress?: (host: string, port: number) => string | undefined
}

/** Where the sessions of endpoints behind a remote cluster's gateway come from (src/multicluster). */
export interface RemoteSessionSource {
  session: (endpoint: Endpoint) => Promise<PeerSession>
  readySession: (endpoint: Endpoint) => PeerSession | undefined
}

/** Counts work in progress; `idle()` resolves when it reaches zero. */
export class InflightCounter {
  #count = 0
  #waiters: Array<() => void> = []

  get count (): number { return this.#count }

  enter (): void { this.#count++ }

  leave (): void {
    this.#count--
    if (this.#count === 0) {
      const waiters = this.#waiters
      this.#waiters = []
      for (const w of waiters) w()
    }
  }

  async idle (): Promise<void> {
    if (this.#count === 0) return
    await new Promise<void>((resolve) => this.#waiters.push(resolve))
  }
}

/** The transport an endpoint asks for (`auto`: h3 when this build has it, else h2; see TransportSelector). */
export function transportFor (ctx: OutboundContext, endpoint: Endpoint): Transport {
  return selectorFor(ctx.transports, ctx.pool).preferred(endpoint)
}

/**
 * A pooled session to the endpoint's peer, checked against its expected identity. `auto`
 * endpoints race h3 against h2 and fall back to h2 (src/outbound/transport-selector.ts).
 */
export async function sessionFor (ctx: OutboundContext, endpoint: Endpoint): Promise<PeerSession> {
  if (endpoint.via !== undefined) return await remoteOf(ctx).session(endpoint)
  return await selectorFor(ctx.transports, ctx.pool).session(endpoint)
}

/**
 * A pooled session with room for a stream, at once, when the endpoint's transport is fixed and one
 * is open; undefined means: `await sessionFor()`. Saves the promises of the async path per request.
 * Unlike sessionFor()'s, it does not reroute by itself: see TransportSelector.readySession().
 */
export function readySessionFor (ctx: OutboundContext, endpoint: Endpoint): PeerSession | undefined {
  if (endpoint.via !== undefined) return remoteOf(ctx).readySession(endpoint)
  return selectorFor(ctx.transports, ctx.pool).readySession(endpoint)
}

/**
 * A pooled session for the endpoint without sessionFor()'s rerouting wrapper: for a request whose
 * caller already rerouted it once itself (the fast path of readySessionFor()).
 */
export async function unwrappedSessionFor (ctx: OutboundContext, endpoint: Endpoint): Promise<PeerSession> {
  if (endpoint.via !== undefined) return await remoteOf(ctx).session(endpoint)
  return await selectorFor(ctx.transports, ctx.pool).pick(endpoint)
}

function remoteOf (ctx: OutboundContext): RemoteSessionSource {
  if (ctx.remote === undefined) throw new MeshError('E_NO_ROUTE', 'an endpoint behind a remote cluster\'s gateway, but no clusters are configured')
  return ctx.remote
}

let nextRequestId = 0
const REQUEST_ID_PREFIX = `${process.pid.toString(36)}-${Date.now().toString(36)}-`

/** A process-unique request id for logs and the tap (cheap: a counter). */
export function newRequestId (): string {
  return REQUEST_ID_PREFIX + (nextRequestId++).toString(36)
}
