/**
 * The gateway role, assembled: accept peer sessions from other clusters on each listener (h2 on
 * TCP and h3 on UDP at one port), then for every stream
 *   authenticate (the transport: mTLS against the trust roots of gateway.trustDomains)
 *   → authorize (trust domain listed? service exported? caller allowed? mode?)
 *   → resolve (local discovery + balancers) → forward: e2e tunnel, or terminate and re-originate.
 * The exports endpoint answers each caller with the services it may reach. One rescue answers
 * any failure with its code.
 */
import type { X509Certificate } from 'node:crypto'
import { Readable } from 'node:stream'
import type { Logger } from 'pino'
import type { GatewayConfig, Timeouts } from '../config/types.js'
import { toMeshError, type MeshError } from '../../core/errors.js'
import { headerValue } from '../http/headers.js'
import { trustDomainOf } from '../../core/identity/spiffe.js'
import { EXPORTS_PATH, GATEWAY_HEADERS } from '../multicluster/wire.js'
import type { EndpointPicker } from '../outbound/endpoint-picker.js'
import { InflightCounter } from '../outbound/context.js'
import { SessionPool } from '../outbound/session-pool.js'
import { selectorFor } from '../outbound/transport-selector.js'
import type { Telemetry } from '../telemetry.js'
import type { InboundExchange, InboundHandlers, InboundTunnel, TlsMaterial } from '../../transports/contract.js'
import { openPeerListeners, type OpenedListener } from '../peer-listeners.js'
import type { TransportRegistry } from '../../transports/registry.js'
import { noopGatewayObserver, type GatewayContext, type GatewayObserver } from './context.js'
import { ExportTable } from './exports.js'
import { forwardE2e } from './forward-e2e.js'
import { terminateRequest, terminateTunnel } from './forward-terminate.js'

export interface GatewayRoleOptions {
  config: GatewayConfig
  /** The gateway's certificate and key with, as `ca`, this cluster's root (for the hop to local inbounds). */
  tls: TlsMaterial
  /** The trust roots callers are checked against, per trust domain (gateway.trustDomains). */
  callerRoots: ReadonlyMap<string, readonly X509Certificate[]>
  identity: string
  picker: EndpointPicker
  identitiesOf: (service: string) => string[]
  timeouts: Timeouts
  transports: TransportRegistry
  telemetry: Telemetry
  observer?: GatewayObserver
  logger: Logger
}

export interface GatewayRole {
  addresses: () => Array<{ transport: string, host: string, port: number }>
  /**
   * Identity rotation: callers' new handshakes get `tls.cert` (checked against the caller roots,
   * which setCallerRoots() replaces), and sessions to local inbounds dialled from now on use `tls`.
   */
  setTls: (tls: TlsMaterial) => void
  /**
   * A trust domain's CA file changed (src/gateway/domain-roots.ts): new handshakes trust the new
   * bundle, and every session's next stream is checked against the domain's new roots.
   */
  setCallerRoots: (domain: string, roots: readonly X509Certificate[]) => void
  /** Graceful: GOAWAY to callers, wait for their streams (bounded by the caller), close sessions to inbounds. */
  close: () => Promise<void>
  destroy: () => void
}

export async function startGatewayRole (options: GatewayRoleOptions): Promise<GatewayRole> {
  const logger = options.logger.child({ role: 'gateway' })
  const pool = new SessionPool({ tls: options.tls, connectTimeoutMs: options.timeouts.connectMs })
  const ctx: GatewayContext = {
    table: new ExportTable(options.callerRoots, options.config.exports),
    picker: options.picker,
    selector: selectorFor(options.transports, pool),
    identitiesOf: options.identitiesOf,
    timeouts: options.timeouts,
    telemetry: options.telemetry,
    observer: options.observer ?? noopGatewayObserver,
    logger,
    identity: options.identity,
  }
  const inflight = new InflightCounter()
  const track = (work: Promise<void>, refuse: (err: MeshError) => void, what: Record<string, unknown>): void => {
    inflight.enter()
    work.catch((err: unknown) => {
      const meshErr = toMeshError(err)
      logger.warn({ code: meshErr.code, err: meshErr.message, ...what }, 'gateway stream refused')
      try {
        refuse(meshErr)
      } catch {
        // Already answered or gone: nothing left to tell the caller.
      }
    }).finally(() => inflight.leave())
  }

  const onRequest = (exchange: InboundExchange, transport: string): void => {
    const service = headerValue(exchange.head.headers, GATEWAY_HEADERS.service)
    const run = async (): Promise<void> => {
      const domain = trustDomainOf(exchange.caller) ?? ''
      if (service === undefined && exchange.head.method === 'GET' && exchange.head.path === EXPORTS_PATH) {
        try {
          const doc = ctx.table.document(exchange.caller, exchange.callerCertificates, ctx.identitiesOf)
          exchange.respond({ status: 200, headers: { 'content-type': 'application/json' } }, Readable.from([Buffer.from(JSON.stringify(doc))]))
          ctx.observer.stream('', 'none', 'exports', 'ok', domain)
        } catch (err) {
          ctx.observer.stream('', 'none', 'exports', toMeshError(err).code, domain)
          throw err
        }
        return
      }
      const label = service !== undefined && ctx.table.exported(service) ? service : 'other'
      try {
        ctx.table.authorize(exchange.caller, exchange.callerCertificates, service, 'terminate')
      } catch (err) {
        ctx.observer.stream(label, 'terminate', 'request', toMeshError(err).code, domain)
        throw err
      }
      await terminateRequest(ctx, exchange, service as string, transport)
        .then(() => ctx.observer.stream(label, 'terminate', 'request', 'ok', domain),
          (err: unknown) => { ctx.observer.stream(label, 'terminate', 'request', toMeshError(err).code, domain); throw err })
    }
    track(run(), (err) => exchange.reject(err), { caller: exchange.caller, service, transport })
  }

  const onTunnel = (tunnel: InboundTunnel, transport: string): void => {
    const mode = headerValue(tunnel.head.headers, GATEWAY_HEADERS.mode) === 'e2e' ? 'e2e' : 'terminate'
    const service = mode === 'e2e' ? tunnel.head.authority : headerValue(tunnel.head.headers, GATEWAY_HEADERS.service)
    const run = async (): Promise<void> => {
      const domain = trustDomainOf(tunnel.caller) ?? ''
      const label = service !== undefined && ctx.table.exported(service) ? service : 'other'
      try {
        ctx.table.authorize(tunnel.caller, tunnel.callerCertificates, service, mode)
      } catch (err) {
        ctx.observer.stream(label, mode, 'tunnel', toMeshError(err).code, domain)
        throw err
      }
      const forward = mode === 'e2e' ? forwardE2e : terminateTunnel
      await forward(ctx, tunnel, service as string, transport)
        .then(() => ctx.observer.stream(label, mode, 'tunnel', 'ok', domain),
          (err: unknown) => { ctx.observer.stream(label, mode, 'tunnel', toMeshError(err).code, domain); throw err })
    }
    track(run(), (err) => tunnel.reject(err), { caller: tunnel.caller, service, mode, transport })
  }

  const handlers = (transport: string): InboundHandlers => ({
    request: (exchange) => onRequest(exchange, transport),
    tunnel: (tunnel) => onTunnel(tunnel, transport),
  })
  // Callers are checked against the roots of the trust domains the gateway accepts, not this
  // cluster's: TLS against all of them at once, then each caller against its own domain's (authorize).
  const bundleOf = (roots: ReadonlyMap<string, readonly X509Certificate[]>): string => [...roots.values()].flat().map((c) => c.toString().trimEnd() + '\n').join('')
  let callerBundle = bundleOf(options.callerRoots)
  let own = options.tls
  const listenTls: TlsMaterial = { ca: callerBundle, cert: options.tls.cert, key: options.tls.key }
  let listeners: OpenedListener[]
  try {
    // h2 (TCP) and h3 (UDP) at one port number, as the inbound role does.
    listeners = await openPeerListeners(options.transports, options.config.listeners, listenTls, handlers, logger, 'gateway')
  } catch (err) {
    pool.destroy()
    throw err
  }
  return {
    addresses: () => listeners.map((l) => ({ transport: l.transport, ...l.listener.address() })),
    setTls: (tls) => {
      pool.setTls(tls)
      own = tls
      for (const l of listeners) l.listener.setTls({ ca: callerBundle, cert: tls.cert, key: tls.key })
    },
    setCallerRoots: (domain, roots) => {
      const next = new Map(ctx.table.roots)
      next.set(domain, roots)
      const bundle = bundleOf(next)
      // The listeners first: a bundle they refuse leaves the table (and the roots in use) as they were.
      for (const l of listeners) l.listener.setTls({ ca: bundle, cert: own.cert, key: own.key })
      callerBundle = bundle
      ctx.table.setRoots(domain, roots)
    },
    close: async () => {
      await Promise.allSettled(listeners.map(async (l) => await l.listener.close()))
      await inflight.idle()
      await pool.close()
    },
    destroy: () => {
      for (const l of listeners) l.listener.destroy()
      pool.destroy()
    },
  }
}
