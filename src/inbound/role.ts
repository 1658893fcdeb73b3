/**
 * The inbound role, assembled: accept peer sessions on each listener, then for every stream
 *   authorize (target configured? caller allowed?) → rewrite mesh headers → deliver
 * over HTTP/1 (node:http), h2c, TCP or an HTTP/1 Upgrade. One rescue answers any failure.
 */
import { isIP } from 'node:net'
import type { Logger } from 'pino'
import type { InboundConfig, RateLimitConfig, Timeouts } from '../config/types.js'
import { toMeshError, type MeshError } from '../../core/errors.js'
import { endToEndHeaders, headerValue, REQUEST_ID_HEADER, splitHostPort } from '../http/headers.js'
import { tunnelClose, type RequestEvent, type Telemetry } from '../telemetry.js'
import { WIRE_HEADERS, type DeliveryGrant, type DeliveryRecord, type InboundDelivery, type InboundHandlers, type InboundTunnel, type TlsMaterial } from '../../transports/contract.js'
import { openPeerListeners, type OpenedListener } from '../peer-listeners.js'
import type { TransportRegistry } from '../../transports/registry.js'
import { H2cUpstream } from './h2c-upstream.js'
import { RateLimiter } from './rate-limit.js'
import { CONSUMED, handleInboundRequest, type InboundHttpContext } from './http-exchange.js'
import { Http1Upstream } from './http1-upstream.js'
import { deliverTcp } from './tcp-upstream.js'
import { TargetTable } from './targets.js'
import { deliverUpgrade } from './upgrade-upstream.js'
import { PluginChain } from '../plugins/plugin-chain.js'
import type { DataPathObserver } from '../outbound/native-http.js'
import { noopPluginObserver, type PluginObserver } from '../plugins/observer.js'

export interface InboundRoleOptions {
  config: InboundConfig
  tls: TlsMaterial
  timeouts: Timeouts
  transports: TransportRegistry
  telemetry: Telemetry
  logger: Logger
  /** Plugin traps and disabled plugins, for metrics. */
  pluginObserver?: PluginObserver
  /** This workload's SPIFFE identity (the plugins' `destination.principal`). */
  identity?: string
  /** Counts inbound requests by data path (`meshgate_inbound_http_data_path_total`). */
  dataPathObserver?: DataPathObserver
  /** Counts requests the rate limiter refused (metrics). */
  onRateLimited?: (identity: string, limit: string) => void
}

export interface InboundRole {
  /** Replaces the rate limits for new requests (undefined: none). */
  setRateLimit: (config: RateLimitConfig | undefined) => void
  addresses: () => Array<{ transport: string, host: string, port: number }>
  /** Graceful close of one transport's listeners only (e.g. h3 off while h2 stays). */
  closeTransport: (transport: string) => Promise<void>
  /** Identity rotation: every listener's new handshakes use `tls`; sessions up drain as they are. */
  setTls: (tls: TlsMaterial) => void
  /** Graceful: GOAWAY to every peer, wait for streams in flight (bounded by the caller). */
  close: () => Promise<void>
  destroy: () => void
}

export async function startInboundRole (options: InboundRoleOptions): Promise<InboundRole> {
  const { config, timeouts, telemetry } = options
  const logger = options.logger.child({ role: 'inbound' })
  const targets = new TargetTable(config.targets)
  const http1 = new Http1Upstream(timeouts)
  const h2c = new H2cUpstream(timeouts)
  const plugins = config.plugins !== undefined && config.plugins.length > 0
    ? await PluginChain.load(config.plugins, { logger, observer: options.pluginObserver ?? noopPluginObserver })
    : undefined
  const httpContext: InboundHttpContext = plugins === undefined ? { targets, http1, h2c, telemetry, logger } : { targets, http1, h2c, telemetry, logger, plugins, identity: options.identity ?? '' }
  let listeners: OpenedListener[] = []
  const setRateLimit = (limits: RateLimitConfig | undefined): void => {
    httpContext.rateLimiter = limits === undefined ? undefined : new RateLimiter(limits, options.onRateLimited)
    // Rate limits count every request in JS: no request may bypass them through a grant. Any
    // change withdraws the grants, so that each target is asked about again under the new limits.
    for (const l of listeners) l.listener.clearDeliveryGrants?.()
  }
  setRateLimit(config.rateLimit)

  const onTunnel = (tunnel: InboundTunnel, transport: string): void => {
    const started = performance.now()
    const isUpgrade = tunnel.head.protocol !== undefined
    let opened = false
    const run = async (): Promise<void> => {
      const address = isUpgrade ? headerValue(tunnel.head.headers, WIRE_HEADERS.target) : tunnel.head.authority
      const target = targets.authorize(address, tunnel.caller, isUpgrade ? 'http' : 'tcp')
      opened = true
      const event = {
        direction: 'inbound' as const,
        authority: target.address,
        identity: tunnel.caller,
        peerIdentity: '',
        transport,
        errorCode: undefined as string | undefined,
        bytesIn: 0,
        bytesOut: 0,
        durationSeconds: 0,
      }
      telemetry.tunnel({ ...event, phase: 'open' })
      let result
      try {
        if (isUpgrade) {
          const headers = endToEndHeaders(tunnel.head.headers, CONSUMED)
          headers[WIRE_HEADERS.clientId] = tunnel.caller
          result = await deliverUpgrade(tunnel, target.address, headers, timeouts.connectMs, timeouts.idleMs)
        } else {
          result = await deliverTcp(tunnel, target.address, timeouts.connectMs, timeouts.idleMs)
        }
      } catch (err) {
        // A target that refused or timed out: the open above gets its close, under the code the
        // caller is answered with (else the open-tunnels gauge would keep it forever).
        telemetry.tunnel({ ...event, phase: 'close', errorCode: toMeshError(err).code, durationSeconds: (performance.now() - started) / 1000 })
        throw err
      }
      telemetry.tunnel(tunnelClose(event, result, started))
    }
    run().catch((err: unknown) => {
      const meshErr = toMeshError(err)
      logger.warn({ code: meshErr.code, err: meshErr.message, caller: tunnel.caller, authority: tunnel.head.authority }, 'inbound tunnel refused')
      // Refused before it opened (target not configured, caller not allowed): no tunnel to count,
      // but a CONNECT answered with an error, counted as a request. The authority stays '': it is
      // whatever the peer asked for, not a configured target.
      if (!opened) telemetry.request(refusedTunnel(tunnel, transport, isUpgrade, meshErr, started))
      try {
        tunnel.reject(meshErr)
      } catch (rejectErr) {
        // The stream may be gone or already answered (a caller that reset it at once): nothing
        // is left to answer, and one bad peer must not end the process.
        logger.debug({ err: rejectErr, caller: tunnel.caller }, 'inbound tunnel could not be answered')
      }
    })
  }

  const countPath = options.dataPathObserver?.inbound
  const handlers = (transport: string): InboundHandlers => ({
    request: (exchange) => {
      countPath?.('js')
      handleInboundRequest(httpContext, exchange, transport)
    },
    tunnel: (tunnel) => onTunnel(tunnel, transport),
    // Plugins see every request in JS: with them, nothing is delivered natively.
    delivery: plugins === undefined ? inboundDelivery(httpContext, timeouts, transport, countPath) : undefined,
  })
  try {
    listeners = await openPeerListeners(options.transports, config.listeners, options.tls, handlers, logger, 'inbound')
  } catch (err) {
    await plugins?.close()
    throw err
  }

  return {
    setRateLimit,
    addresses: () => listeners.map((l) => ({ transport: l.transport, ...l.listener.address() })),
    setTls: (tls) => {
      for (const l of listeners) l.listener.setTls(tls)
    },
    closeTransport: async (transport) => {
      await Promise.allSettled(listeners.filter((l) => l.transport === transport).map(async (l) => await l.listener.close()))
    },
    close: async () => {
      await Promise.allSettled(listeners.map(async (l) => await l.listener.close()))
      await http1.close()
      h2c.close()
      await plugins?.close()
    },
    destroy: () => {
      for (const l of listeners) l.listener.destroy()
      h2c.close()
      http1.close().catch(() => {})
      plugins?.close().catch(() => {})
    },
  }
}

/** The RequestEvent of a CONNECT (TCP or Upgrade) refused before its tunnel opened. */
function refusedTunnel (tunnel: InboundTunnel, transport: string, isUpgrade: boolean, err: MeshError, started: number): RequestEvent {
  return {
    direction: 'inbound',
    protocol: isUpgrade ? 'http1' : 'tcp',
    authority: '',
    method: 'CONNECT',
    path: tunnel.head.path,
    identity: tunnel.caller,
    peerIdentity: '',
    transport,
    status: err.status,
    errorCode: err.code,
    durationSeconds: (performance.now() - started) / 1000,
    requestId: headerValue(tunnel.head.headers, REQUEST_ID_HEADER) ?? '',
  }
}

/**
 * Native inbound delivery: the grants (the same authorization as every JS-path request, made
 * once per session × target) and the records of natively delivered requests, reported as the JS
 * path reports its own (src/inbound/http-exchange.ts).
 */
function inboundDelivery (ctx: InboundHttpContext, timeouts: Timeouts, transport: string, countPath: ((path: 'native') => void) | undefined): InboundDelivery {
  return {
    grant: (caller, target): DeliveryGrant | undefined => {
      if (ctx.rateLimiter !== undefined) return undefined
      let allowed
      try {
        allowed = ctx.targets.authorize(target, caller, 'http')
      } catch {
        return undefined  // refused: every request to it takes the JS path and is refused there
      }
      const { host, port } = splitHostPort(allowed.address)
      if (isIP(host) === 0 || port === undefined) return undefined  // a name: resolved by node on the JS path
      return { address: allowed.address, host, port, auto: allowed.protocol === 'auto', http2: allowed.protocol === 'http2', connectMs: timeouts.connectMs, idleMs: timeouts.idleMs, requestMs: timeouts.requestMs }
    },
    targets: () => ctx.targets.httpAddresses(),
    record: (r: DeliveryRecord): void => {
      countPath?.('native')
      const failedBeforeHead = r.errorCode !== undefined && !r.headSent
      if (failedBeforeHead && !r.peerGone) {
        ctx.logger.warn({ code: r.errorCode, err: r.errorMessage, requestId: r.requestId, caller: r.caller, authority: r.authority }, 'inbound request refused')
      }
      ctx.telemetry.request({
        direction: 'inbound',
        protocol: r.origProto === undefined ? 'http2' : 'http1',
        authority: r.authority,
        method: r.method,
        path: r.path,
        identity: r.caller,
        peerIdentity: '',
        transport,
        status: r.status === 0 ? 502 : r.status,
        errorCode: failedBeforeHead ? r.errorCode : undefined,
        durationSeconds: r.headMs / 1000,
        requestId: r.requestId,
      })
      if (failedBeforeHead) return  // as on the JS path: a refusal has no body to report the end of
      ctx.telemetry.requestEnd({
        direction: 'inbound',
        authority: r.authority,
        status: r.status,
        requestBytes: r.requestBytes,
        responseBytes: r.responseBytes,
        totalSeconds: r.totalMs / 1000,
        identity: r.caller,
        peerIdentity: '',
        transport,
        errorCode: r.errorCode,
      })
    },
  }
}
